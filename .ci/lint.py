"""CI: `snakemake --lint` finds nothing but the conda/container lint.

    python .ci/lint.py [snakemake args...]     exit 1 listing every other lint

The pipeline has one pure-Python environment installed from requirements.lock, so no rule
has a `conda:` or `container:` directive and Snakemake asks for one on every rule: that lint
is expected. Any other (a missing log:, a path joined with +, a mixed rule, ...) fails CI.
(Snakemake 9.27 prints text even for --lint=json, so the text is parsed.)
"""

from __future__ import annotations

import re
import subprocess
import sys

ALLOWED = {"Specify a conda environment or container for each rule."}
CLEAN = "Congratulations, your workflow is in a good condition!"


def lints(text: str) -> list[tuple[str, str]]:
    """[(where, title)] from the text of `snakemake --lint`: where is e.g. "rule train (line 8, ...)"."""
    found, where = [], None
    for line in text.splitlines():
        if m := re.match(r"^Lints for (.+):$", line):
            where = m.group(1)
        elif (m := re.match(r"^    \* (.+):$", line)) and where:
            found.append((where, m.group(1)))
    return found


def unexpected(text: str) -> list[str]:
    """Every lint but the allowed ones, one line each; a run that linted nothing is one too."""
    found = lints(text)
    if not found and CLEAN not in text:
        return ["snakemake --lint did not lint (no lint and no 'good condition' line):\n" + text.strip()]
    return [f"{where}: {title}" for where, title in found if title not in ALLOWED]


def main(argv: list[str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", *argv], capture_output=True, text=True, timeout=300
    )
    bad = unexpected(proc.stdout + proc.stderr)
    for line in bad:
        print(f"lint: {line}", file=sys.stderr)
    if not bad:
        print(
            f"{' '.join(['snakemake --lint', *argv])}: clean apart from the conda/container lint "
            f"({len(lints(proc.stdout + proc.stderr))} of those)"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
