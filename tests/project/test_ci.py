"""The CI checks of .ci/: the lint filter fails on real lints and passes the pipeline's own."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO, snakemake_env

spec = importlib.util.spec_from_file_location("ci_lint", REPO / ".ci" / "lint.py")
ci_lint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ci_lint)

CONDA = "Specify a conda environment or container for each rule."


def lint(*args, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / ".ci" / "lint.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=snakemake_env(),
    )


def test_only_the_conda_lint_is_allowed():
    text = (
        f"Lints for rule a (line 1, S):\n    * {CONDA}:\n      why\n"
        f"Lints for rule b (line 9, S):\n    * {CONDA}:\n    * No log directive defined:\n      why\n"
    )
    assert ci_lint.lints(text) == [
        ("rule a (line 1, S)", CONDA),
        ("rule b (line 9, S)", CONDA),
        ("rule b (line 9, S)", "No log directive defined"),
    ]
    assert ci_lint.unexpected(text) == ["rule b (line 9, S): No log directive defined"]
    assert ci_lint.unexpected(f"Lints for rule a (line 1, S):\n    * {CONDA}:\n") == []
    assert ci_lint.unexpected(ci_lint.CLEAN) == []
    assert ci_lint.unexpected("SyntaxError in Snakefile line 3")[0].startswith("snakemake --lint did not lint")


@pytest.mark.slow
def test_a_real_lint_fails_and_the_pipeline_passes(tmp_path):
    (tmp_path / "Snakefile").write_text('rule a:\n    output: "x.txt"\n    shell: "echo hi > {output}"\n')
    bad = lint("--snakefile", "Snakefile", cwd=tmp_path)
    assert bad.returncode == 1 and "rule a (line 1" in bad.stderr and "No log directive defined" in bad.stderr
    ours = lint()
    assert ours.returncode == 0, ours.stderr
    assert "clean apart from the conda/container lint" in ours.stdout


def test_a_plain_pytest_deselects_the_slurm_tests_and_slurm_selects_them():
    """Issue 11: the README's `pytest` installs nothing and starts no daemon; only `--slurm` asks for that."""

    def collect(*flags):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *flags, "tests/slurm"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return proc.stdout

    plain, asked = collect(), collect("--slurm")
    assert "test_slurm.py::" not in plain and "test_slurm_down.py::" not in plain
    assert "no tests collected" in plain and " deselected" in plain, plain
    assert "test_slurm.py::" in asked and "test_slurm_down.py::" in asked, asked
