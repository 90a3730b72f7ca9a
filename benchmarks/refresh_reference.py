"""Refresh the reference run in one step: the committed manifest and the README's table, from one results/.

    .venv/bin/python benchmarks/refresh_reference.py [--results results] [--date "2026-12-03 08:00"]

Run it after README command 1 finished in a fresh clone (pinned numerics, the default config):
it writes reference/manifest.json (`nn-verify --write`: each per-seed result file's SHA-256 and
each seed's test accuracy, with this machine's numerics fingerprint) and replaces the README's
ledger table, between its `<!-- ledger -->` markers, with results/ledger.md and the date, so the
two always describe the same run. Commit both.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BEGIN, END = "<!-- ledger: begin -->", "<!-- ledger: end -->"


def readme_with_ledger(readme: str, ledger: str, when: str) -> str:
    """The README with the text between the markers replaced by the ledger of the run of `when`."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md: needs exactly one {BEGIN} and one {END}")
    body = f"{BEGIN}\nCopied from `results/ledger.md` of the reference run of {when}:\n\n{ledger.strip()}\n{END}"
    return re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: body, readme, flags=re.S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--date", default=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    args = parser.parse_args()
    from nn.pipeline import verify

    code = verify.main(
        ["--results", str(args.results), "--manifest", str(REPO / "reference" / "manifest.json"), "--write"]
    )
    if code:
        return code
    readme = REPO / "README.md"
    ledger = (args.results / "ledger.md").read_text(encoding="utf-8")
    readme.write_text(readme_with_ledger(readme.read_text(encoding="utf-8"), ledger, args.date), encoding="utf-8")
    print(f"README.md: ledger table of {args.date} from {args.results / 'ledger.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
