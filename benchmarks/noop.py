"""How long a no-op `snakemake --cores 4` takes once everything is up to date, and what of it is startup.

    .venv/bin/python benchmarks/noop.py [--directory PROJECT] [--repeat 7]

Run it in a project after the README's two commands (in either order): both install
requirements.lock into .venv, which has no Slurm executor plugin, so Snakemake loads no
plugin that asks a Slurm controller for its settings. It times, alternately, `snakemake
--cores 4` in PROJECT (default: this checkout; it must already say "Nothing to be done") and
`snakemake --version` (Python, Snakemake and its plugins loading, no workflow), each with
this interpreter, and prints their medians and ratio as one JSON object, plus whether the
Slurm plugin is installed and what Slurm's controller says (nn.pipeline.environment.slurm_controller).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nn.pipeline import environment  # noqa: E402

NOTHING = "Nothing to be done"


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return seconds, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--directory", type=Path, default=REPO, help="a project whose pipeline has finished")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    snakemake = [sys.executable, "-m", "snakemake"]

    _, said = timed([*snakemake, "--cores", "4"], args.directory)  # warms the file cache, and checks
    if NOTHING not in said:
        sys.exit(
            f"{args.directory}: the pipeline is not up to date, so this would not be a no-op: "
            "run the README's first command there first"
        )
    noop, version = [], []
    for _ in range(args.repeat):  # alternating, so load from other work on the machine hits both alike
        noop.append(timed([*snakemake, "--cores", "4"], args.directory)[0])
        version.append(timed([*snakemake, "--version"], args.directory)[0])
    slurm = environment.slurm_controller()
    print(
        json.dumps(
            {
                "directory": str(args.directory.resolve()),
                "python": sys.executable,
                "noop_seconds_median": round(statistics.median(noop), 3),
                "noop_seconds": [round(s, 3) for s in noop],
                "version_seconds_median": round(statistics.median(version), 3),
                "noop_over_version": round(statistics.median(noop) / statistics.median(version), 2),
                "slurm_plugin_installed": environment.importlib.util.find_spec("snakemake_executor_plugin_slurm")
                is not None,
                "slurm_controller": slurm and list(slurm),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
