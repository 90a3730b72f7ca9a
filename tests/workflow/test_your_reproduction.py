"""docs/your-reproduction.md, followed as written: the template copied into reproductions/ of a copy
of the project becomes a ledger row with a verdict; a file missing a field stops the run in one line
naming the file and the field. Tiny generated data stand in for MNIST."""

from __future__ import annotations

import csv
import shutil

import pytest

from conftest import REPO, Workflow, tiny_config

pytestmark = pytest.mark.slow

TEMPLATE = REPO / "docs" / "your-reproduction.yaml"
VERDICTS = {"reproduced", "within_spread", "inconclusive", "above", "below"}


def project_with_your_file(tmp_path, tiny_mirror, text: str) -> Workflow:
    """A copy of the project whose reproductions/ holds only your file (the sources' own rows would
    train for half an hour), configured for the tiny data."""
    repo = tmp_path / "project"
    shutil.copytree(
        REPO, repo, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "__pycache__", "tests")
    )
    for path in (repo / "reproductions").glob("*.yaml"):
        path.unlink()
    (repo / "reproductions" / "my-blog.yaml").write_text(text)
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg.update(reproductions="reproductions", runs={}, sweeps={}, comparisons=[])
    return Workflow(repo, cfg, snakefile=repo / "Snakefile")


def test_the_template_becomes_a_ledger_row_with_a_verdict(tmp_path, tiny_mirror):
    wf = project_with_your_file(tmp_path, tiny_mirror, TEMPLATE.read_text())
    wf.run("--cores", "2")
    with wf.path("results/summary.csv").open() as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["my-blog-mlp"]
    row = rows["my-blog-mlp"]
    assert row["status"] == "ok" and row["reference_kind"] == "reproduction"
    assert row["verdict"] in VERDICTS, row
    assert "my-blog-mlp" in wf.path("results/ledger.md").read_text()
    assert "My blog post" in wf.path("results/report.html").read_text()


@pytest.mark.parametrize(
    "line, field",
    [
        ("      evidence: from code       # from code | from text | reconstructed\n", "evidence"),
        ("      accuracy: 0.9500          # the published figure, as a fraction\n", "accuracy"),
    ],
)
def test_a_file_missing_a_field_stops_in_one_line_naming_the_file_and_the_field(tmp_path, tiny_mirror, line, field):
    text = TEMPLATE.read_text()
    assert line in text
    wf = project_with_your_file(tmp_path, tiny_mirror, text.replace(line, ""))
    proc = wf.run("--cores", "1", "-n", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Config error: reproductions/my-blog.yaml: runs.my-blog-mlp.reference: '{field}' is a required property"
    )
    assert not wf.path("results").exists()
