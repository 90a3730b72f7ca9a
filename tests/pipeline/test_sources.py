"""nn.pipeline.sources: the files a rule's code hash covers, followed through imports, and the hash."""

import pytest

from conftest import REPO
from nn.pipeline.sources import code_fingerprint, module_sources, script_sources


def test_module_sources_follow_imports_transitively(tmp_path):
    files = module_sources("nn.mnist.download")
    # download imports fileio (which imports _tempfiles), http and idx; importing nn.mnist.x runs nn/__init__.py
    # and nn/mnist/__init__.py
    assert files == [
        str(REPO / "nn" / n)
        for n in (
            "__init__.py",
            "_tempfiles.py",
            "fileio.py",
            "mnist/__init__.py",
            "mnist/download.py",
            "mnist/http.py",
            "mnist/idx.py",
        )
    ]
    script = tmp_path / "s.py"
    script.write_text("import os\nfrom nn.mnist import http\nimport nn.stats\n")
    assert script_sources(script) == sorted(
        str(REPO / "nn" / n) for n in ("__init__.py", "mnist/__init__.py", "mnist/http.py", "stats.py")
    )
    with pytest.raises(FileNotFoundError, match="nn.nope: no such module"):
        module_sources("nn.nope")


def test_a_name_from_the_public_api_counts_as_the_module_that_defines_it(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from nn import SGD, fileio\n")  # SGD through nn/__init__.py's lazy API table
    expected = ("__init__.py", "_tempfiles.py", "fileio.py", "optim.py")
    assert script_sources(script) == [str(REPO / "nn" / n) for n in expected]


def test_relative_imports_are_followed(tmp_path):
    # nn/report/published.py and its siblings: `from .figures import x` would be nn.report.figures
    from nn.pipeline.sources import _parsed_imports

    package = REPO / "nn" / "report"
    probe = package / "_probe_relative.py"
    probe.write_text("from .figures import DPI\nfrom .. import stats\n")
    try:
        st = probe.stat()
        assert _parsed_imports(str(probe), st.st_mtime_ns, st.st_size) == {"nn.report.figures", "nn.stats"}
    finally:
        probe.unlink()


def test_the_import_scan_finds_what_the_parser_finds_and_no_more():
    # nn.pipeline.sources reads import statements only (ast-parsing whole files cost a no-op
    # `snakemake` a fifth of its time); every form an import takes, and none in a string
    import ast
    from nn.pipeline.sources import import_statements

    text = (
        '"""A docstring whose example says\nfrom nn import SGD\nimport nn.stats\n"""\n'
        "import os, nn.fileio  # a comment (with a bracket\n"
        "from nn.mnist import (http,\n    idx)  # closed here\n"
        "from nn.report import \\\n    figures\n"
        "def f():\n    from nn import train\n    x = '''\nimport nn.init\n'''\n"
        "from nn.model import mlp; import nn.losses\n"
    )
    walked = sorted(ast.dump(n) for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert sorted(ast.dump(n) for n in import_statements(text)) == walked
    assert len(walked) == 6
    # and on every Python file of the project
    for path in [*REPO.glob("nn/**/*.py"), *REPO.glob("workflow/scripts/*.py"), *REPO.glob("tests/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        walked = sorted(ast.dump(n) for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom)))
        assert sorted(ast.dump(n) for n in import_statements(text)) == walked, path


def test_code_fingerprint_is_relative_and_follows_content(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from nn.mnist import http\n")
    helper = REPO / "workflow" / "scripts" / "_common.py"
    prints = code_fingerprint(script, helper)
    # no absolute path; the helper's own nn imports count too (_common pins the numerics)
    assert sorted(prints) == [
        "nn/__init__.py",
        "nn/mnist/__init__.py",
        "nn/mnist/http.py",
        "nn/pipeline/__init__.py",
        "nn/pipeline/numerics.py",
        "workflow/scripts/_common.py",
    ]
    import hashlib

    assert prints["nn/mnist/http.py"] == hashlib.sha256((REPO / "nn" / "mnist" / "http.py").read_bytes()).hexdigest()
