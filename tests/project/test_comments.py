"""Comments and docstrings say what the code is and why, in the present tense.

History belongs to git and docs/, not to the code: no comment or docstring in nn/, workflow/
or the Snakefile names an issue number ("issue 21", "issues #12") or a date ("2026-12-03",
"Dec 3", "3 December"), since those say when or through which ticket something changed, not
what the code does or why. Read from every file's comments (tokenize) and docstrings (ast) for
Python, and from comment lines and triple-quoted strings for the Snakemake files.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from conftest import REPO

MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
# month names are matched capitalised only: "may 2 seeds" is a verb, "May 2" a date
FORBIDDEN = [
    (re.compile(r"(?i)\bissues? ?#?\d+"), "names an issue number"),
    (re.compile(r"(?<![\w/&#])#\d+\b"), "names an issue number"),  # "(#21)", "see #21"
    (re.compile(r"\b20\d\d-\d\d-\d\d\b"), "names a date"),
    (re.compile(rf"\b{MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?\b(?![.,:]?\d)"), "names a date"),
    (re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)? {MONTH}\b"), "names a date"),
]


def source_files(root: Path) -> list[Path]:
    files = [
        *sorted((root / "nn").rglob("*.py")),
        *sorted((root / "workflow").rglob("*.py")),
        *sorted((root / "workflow" / "rules").glob("*.smk")),
    ]
    if (root / "Snakefile").exists():
        files.append(root / "Snakefile")
    return files


def python_comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python source."""
    found = [
        (tok.start[0], tok.string.lstrip("#"))
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                found.append((node.body[0].lineno, doc))
    return found


TRIPLE_QUOTED = re.compile(r'[rRbBuUfF]{0,2}("""|\'\'\')(.*?)\1', re.DOTALL)


def snakemake_comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment line and triple-quoted string of a Snakemake file.

    Trailing comments after code are read too, where tokenize can lex the file (Snakemake's
    syntax is Python's, lexically); where it cannot, comment lines only."""
    found = [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in TRIPLE_QUOTED.finditer(text)]
    try:
        found += [
            (tok.start[0], tok.string.lstrip("#"))
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        found += [
            (n, line.strip().lstrip("#")) for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("#")
        ]
    return found


def comments_of(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return python_comments(text) if path.suffix == ".py" else snakemake_comments(text)


def offences(text: str) -> list[tuple[int, str, str]]:
    """(line offset within text, what, the matched words) for each forbidden mention in text."""
    found = []
    for pattern, what in FORBIDDEN:
        for m in pattern.finditer(text):
            found.append((text.count("\n", 0, m.start()), what, m.group(0)))
    return found


def comment_problems(root: Path = REPO) -> list[str]:
    """One line per comment or docstring that names an issue number or a date: file:line."""
    problems = []
    for path in source_files(root):
        for line, text in comments_of(path):
            for offset, what, words in offences(text):
                problems.append(f"{path.relative_to(root)}:{line + offset}: {what}: {words!r}")
    return sorted(set(problems))


def test_no_comment_names_an_issue_or_a_date():
    problems = comment_problems()
    assert not problems, (
        "comments and docstrings say what is and why, not when or through which issue "
        "(that is git's and docs/'s):\n" + "\n".join(problems)
    )


def test_every_kind_of_file_is_read():
    files = source_files(REPO)
    assert {p.suffix for p in files} >= {".py", ".smk", ""}
    assert all(comments_of(p) for p in files if p.suffix == ".smk" or p.name == "Snakefile")


@pytest.mark.parametrize(
    "sample",
    [
        "see issue 21",
        "(issue 12)",
        "Issues #7 and #8",
        "the cache (#21)",
        "measured 2026-12-03",
        "fixed on Dec 3",
        "as of December 3rd",
        "since 3 Dec",
    ],
)
def test_the_patterns_catch(sample):
    assert offences(sample)


@pytest.mark.parametrize(
    "sample",
    [
        "a date is written %Y-%m-%d",
        "it may 2 times",
        "20 MB for 100,000 epochs",
        "99.3 % (Simard, 2003)",
        "an issue with the cache",
        "sep 3 columns",
        "C# 7",
        "&#21;",
    ],
)
def test_the_patterns_spare(sample):
    assert not offences(sample)


@pytest.mark.parametrize("kind", ["py-comment", "py-docstring", "smk-comment", "smk-trailing", "smk-docstring"])
def test_a_planted_mention_fails(tmp_path, kind):
    """A copy of the sources with one offending comment planted is caught, at its file and line."""
    for part in ("nn", "workflow/rules", "workflow/scripts"):
        (tmp_path / part).mkdir(parents=True, exist_ok=True)
    (tmp_path / "Snakefile").write_text((REPO / "Snakefile").read_text(encoding="utf-8"), encoding="utf-8")
    planted = {
        "py-comment": ("nn/x.py", "x = 1\n\n# the cache, see issue 21\ny = 2\n", 3),
        "py-docstring": (
            "workflow/scripts/x.py",
            'def f():\n    """Return 1.\n\n    Since 2026-12-03."""\n    return 1\n',
            4,
        ),
        "smk-comment": ("workflow/rules/x.smk", "rule a:\n    # added on Dec 3\n    output: 'a'\n", 2),
        "smk-trailing": ("workflow/rules/x.smk", "rule a:\n    output: 'a'  # (issue 12)\n", 2),
        "smk-docstring": ("workflow/rules/x.smk", 'def g():\n    """Read it\n    (issue 4)."""\n    return 0\n', 3),
    }[kind]
    name, text, line = planted
    (tmp_path / name).write_text(text, encoding="utf-8")
    problems = comment_problems(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{name}:{line}:"), problems
