"""The compute floor of a pipeline run: the matrix products its networks cannot avoid, timed alone.

    .venv/bin/python benchmarks/floor.py [--directory PROJECT] [--configfile CONFIG] [--cores 2]
        [--elapsed SECONDS | --snakemake-log LOG ...] [--repeats 7] [--json]

The floor of a run is the time of the matrix products its networks need, at the run's precision,
timed alone on one pinned BLAS thread, times its epochs and seeds. Per batch of b rows and per
layer n_in -> n_out, as nn.layers.Linear computes them:
- forward:         X (b, n_in) @ W (n_in, n_out)
- weight gradient: X.T (n_in, b) @ G (b, n_out)
- input gradient:  G (b, n_out) @ W.T (n_out, n_in), every layer but the first (no pixel gradient).
The layers are [784, *hidden, 10]; an epoch is n_train // b batches of b rows and, when n_train
is not a multiple of b, one batch of the rest (n_train = 60,000 - validation; batch_size "full"
and any b >= n_train = one batch of n_train). Summed over every network trained and divided by
the cores, the floor is the time no numpy implementation on this machine can beat without
changing what is computed.

What is read: PROJECT/results/timings.csv (nn.report.reproduction.timing_rows: one line per run
and seed with train_seconds and epoch_seconds) says which runs and seeds were trained and how long
they took; the hyperparameters come from the config (PROJECT/config.yaml unless --configfile)
through the pipeline's own loader, nn.pipeline.config.load, with extras switched on so that a run
trained under extras=true is found. A run the config trains by default that has no line in
timings.csv is listed as not trained.

Timing: one child process with a training job's environment: nn.pipeline.numerics.pin with the
config's `numerics` (pinned: OpenBLAS's Haswell kernel, numpy capped at X86_V3) and one BLAS
thread, whatever the run's own `threads`. Each distinct product (kind, shape, dtype) is timed
once for all the runs that need it: np.matmul into a preallocated out= array, a warm-up call,
then --repeats rounds of enough calls to last about 20 ms each, interleaved with the other
products' rounds (time_here). The figure is the minimum over rounds of the seconds per call, not
the median: a floor is a lower bound, and on a shared machine other work only ever adds time to
a round. The operands stay warm in the caches, as they are not all in a training step, which
lowers it further: the floor is a bound, not a prediction.

Columns per run: seeds trained; training CPU-s, the sum of the seeds' train_seconds (wall seconds
of one-thread trainings: their CPU seconds while each has a core to itself, more on a crowded
machine); s/epoch, the median over every epoch of every seed (each epoch's training plus the
run's validation and test monitoring, which the floor leaves out); floor s/epoch for one seed;
ratio = s/epoch / floor s/epoch; floor CPU-s = floor s/epoch x the epochs the seeds ran (fewer
than configured after early stopping or divergence). The pipeline line sums the floor CPU-s,
divides it by --cores and sets the elapsed time against it: --elapsed SECONDS, or Snakemake's
logs (.snakemake/log/*.snakemake.log, one per invocation, summed; see snakemake_elapsed), with
the names of those that do not say the workflow finished. A last line gives the products' rate
per dtype (their flops over their floor seconds, weighted as the runs run them).
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

N_IMAGES, N_IN, N_OUT = 60000, 784, 10
KINDS = ("forward", "weight_grad", "input_grad")
ROUND_SECONDS = 0.02  # each timing round lasts about this long
# a training job's BLAS thread variables (workflow/scripts/train.py), here all 1
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# --- what a run computes ------------------------------------------------------------------------


def epoch_batches(hp: dict) -> list[tuple[int, int]]:
    """[(rows, how many batches of that many rows)] in one epoch of the run."""
    n_train = N_IMAGES - hp["validation"]
    b = n_train if hp["batch_size"] == "full" else min(hp["batch_size"], n_train)
    full, rest = divmod(n_train, b)
    return [(b, full)] + ([(rest, 1)] if rest else [])


def batch_products(rows: int, hp: dict) -> list[tuple]:
    """The products of one batch: (kind, rows, n_in, n_out, dtype), as nn.layers.Linear runs them."""
    sizes = [N_IN, *hp["hidden"], N_OUT]
    out = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        for kind in KINDS if i else KINDS[:2]:
            out.append((kind, rows, n_in, n_out, hp["dtype"]))
    return out


def epoch_products(hp: dict) -> list[tuple[tuple, int]]:
    """[(product, how many times one epoch of one seed runs it)]; none for an untrained run."""
    if not hp["epochs"]:
        return []
    return [(p, count) for rows, count in epoch_batches(hp) for p in batch_products(rows, hp)]


def floor_per_epoch(hp: dict, seconds: dict) -> float:
    """Seconds of one epoch's products for one seed, from {product: seconds per call}."""
    return sum(count * seconds[p] for p, count in epoch_products(hp))


def flops_per_epoch(hp: dict) -> int:
    """Floating-point operations of one epoch's products for one seed (2 per multiply-add)."""
    return sum(count * 2 * rows * n_in * n_out for (_, rows, n_in, n_out, _), count in epoch_products(hp))


# --- timing, in a child process -----------------------------------------------------------------


def time_here(products: list, repeats: int) -> list[float]:
    """Seconds per np.matmul call of each product: the minimum over `repeats` passes, each pass one
    timed round of every product in turn, so that a slow spell of the machine hits only some of
    a product's rounds. Operands are random numbers in [0, 1), one array per shape and dtype
    (the values do not change the time); each product writes into an out= array of its own shape
    that is no operand."""
    import numpy as np

    rng = np.random.default_rng(0)
    pools = ({}, {})

    def array(shape, dtype, pool=0):
        if (shape, dtype) not in pools[pool]:
            pools[pool][shape, dtype] = rng.random(shape, dtype) if pool == 0 else np.empty(shape, dtype)
        return pools[pool][shape, dtype]

    rounds = []
    for kind, rows, n_in, n_out, dtype in products:
        if kind == "forward":  # X @ W
            args = array((rows, n_in), dtype), array((n_in, n_out), dtype), array((rows, n_out), dtype, 1)
        elif kind == "weight_grad":  # X.T @ G
            args = array((rows, n_in), dtype).T, array((rows, n_out), dtype), array((n_in, n_out), dtype, 1)
        else:  # G @ W.T
            args = array((rows, n_out), dtype), array((n_in, n_out), dtype).T, array((rows, n_in), dtype, 1)
        np.matmul(args[0], args[1], out=args[2])  # warm-up
        start = time.perf_counter()
        np.matmul(args[0], args[1], out=args[2])
        rounds.append((args, max(1, round(ROUND_SECONDS / max(time.perf_counter() - start, 1e-7)))))
    best = [float("inf")] * len(products)
    for _ in range(repeats):
        for i, ((left, right, out), calls) in enumerate(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                np.matmul(left, right, out=out)
            best[i] = min(best[i], (time.perf_counter() - start) / calls)
    return best


def child(repeats: int) -> None:
    """In the child: time the products listed as JSON on stdin; print seconds and what ran."""
    import numpy as np

    from nn.pipeline import numerics

    seconds = time_here([tuple(p) for p in json.load(sys.stdin)], repeats)
    blas = numerics.blas_info()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "machine": {
                    "cpu": numerics.cpu_model(),
                    "cpus": os.cpu_count(),
                    "numpy": np.__version__,
                    "numpy_dispatch": numerics.active_targets(),
                    "blas": f"{blas['name']} {blas['version']}",
                    "kernel": blas["corename"],
                    "blas_threads": blas["threads"],
                    "settings": {v: os.environ.get(v) for v in (*numerics.PINNED, "OPENBLAS_NUM_THREADS")},
                    "not_reference": numerics.honoured(),
                },
            }
        )
    )


def time_products(products: list[tuple], mode: str, repeats: int) -> tuple[dict, dict]:
    """({product: seconds per call}, machine) from a child started as a training job with one
    BLAS thread and numerics `mode` (nn.pipeline.numerics.pin) would be."""
    from nn.pipeline import numerics

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    numerics.pin(mode, env)
    env.update({var: "1" for var in THREAD_VARS})
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--repeats", str(repeats)],
        env=env,
        input=json.dumps(products),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"floor.py: the timing child failed: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    return dict(zip(products, out["seconds"])), out["machine"]


# --- what the run did ---------------------------------------------------------------------------


def read_timings(path: Path) -> dict[str, list[dict]]:
    """{run: [{"seed", "train_seconds", "epoch_seconds"}]} from timings.csv, in file order."""
    runs: dict[str, list[dict]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            runs.setdefault(row["run"], []).append(
                {
                    "seed": int(row["seed"]),
                    "train_seconds": float(row["train_seconds"]) if row["train_seconds"] else 0.0,
                    "epoch_seconds": [float(s) for s in row["epoch_seconds"].split()],
                }
            )
    return runs


def load_runs(config_path: Path, schema_path: Path) -> tuple[dict, dict, str]:
    """(every run, extras included; the runs the config trains as it stands; numerics mode)."""

    from nn.pipeline import config as nnconfig

    raw = nnconfig.read(config_path)
    cfg, default_runs, _ = nnconfig.load(copy.deepcopy(raw), schema_path)
    _, all_runs, _ = nnconfig.load({**copy.deepcopy(raw), "extras": True}, schema_path)
    return all_runs, default_runs, cfg["numerics"]


ELAPSED = re.compile(r"^Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)\s*$")
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]\s*$")
DATE = re.compile(r"^\s*Date: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
DONE = re.compile(r"\(100%\) done|Nothing to be done")


def snakemake_elapsed(path: Path) -> tuple[float, bool]:
    """(the wall seconds of one Snakemake invocation, whether its log says the workflow finished).

    The seconds are Snakemake's own closing "Elapsed time: 0:23:19.705020" line (Snakemake 9
    writes it at the end of a run, finished or failed); a log without it (a run still going, or
    killed) gives the span from its "Date:" header, else its first "[Sun Dec  6 22:44:29 2026]"
    time stamp, to its last time stamp, to the second."""
    start = end = elapsed = None
    finished = False
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if m := ELAPSED.match(line):
            days, hours, minutes, seconds = m.groups()
            elapsed = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        elif m := STAMP.match(line):
            end = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            start = start or end
        elif (m := DATE.match(line)) and start is None:
            start = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        finished = finished or bool(DONE.search(line))
    if elapsed is None and (start is None or end is None):
        sys.exit(f"floor.py: {path} has neither an Elapsed time line nor time stamps")
    return (elapsed if elapsed is not None else (end - start).total_seconds()), finished


# --- the figures --------------------------------------------------------------------------------


def figures(timings: dict, all_runs: dict, default_runs: dict, seconds: dict) -> dict:
    """Per-run rows and the pipeline's sums."""
    rows = []
    for run, seeds in timings.items():
        if run not in all_runs:
            continue
        hp = all_runs[run]
        epochs = [s for seed in seeds for s in seed["epoch_seconds"]]
        floor = floor_per_epoch(hp, seconds) if hp["epochs"] else None
        per_epoch = statistics.median(epochs) if epochs else None
        rows.append(
            {
                "run": run,
                "seeds": len(seeds),
                "epochs": hp["epochs"],
                "epochs_run": len(epochs),
                "hidden": hp["hidden"],
                "batch_size": hp["batch_size"],
                "n_train": N_IMAGES - hp["validation"],
                "dtype": hp["dtype"],
                "training_cpu_s": sum(seed["train_seconds"] for seed in seeds),
                "s_per_epoch": per_epoch,
                "floor_s_per_epoch": floor,
                "ratio": per_epoch / floor if per_epoch and floor else None,
                "floor_cpu_s": (floor or 0.0) * len(epochs),
                "flops": flops_per_epoch(hp) * len(epochs),
            }
        )
    rates = {}
    for dtype in sorted({r["dtype"] for r in rows}):
        floor_s, flops = (sum(r[k] for r in rows if r["dtype"] == dtype) for k in ("floor_cpu_s", "flops"))
        if floor_s:
            rates[dtype] = flops / floor_s
    return {
        "runs": rows,
        "flops_per_second": rates,
        "not_trained": [run for run in default_runs if run not in timings],
        "not_in_config": [run for run in timings if run not in all_runs],
        "floor_cpu_s": sum(r["floor_cpu_s"] for r in rows),
        "training_cpu_s": sum(r["training_cpu_s"] for r in rows),
        "networks": sum(r["seeds"] for r in rows),
    }


def num(x, decimals=1) -> str:
    """A figure for the table, "-" for none."""
    return "-" if x is None else f"{x:,.{decimals}f}"


def print_report(out: dict) -> None:
    m = out["machine"]
    print(
        f"{out['date']}; {m['cpu']}, {m['cpus']} CPUs; numpy {m['numpy']} dispatch {' '.join(m['numpy_dispatch'])}; "
        f"{m['blas']} kernel {m['kernel']}, {m['blas_threads']} thread; numerics {out['numerics']}"
        + (f" (not the reference's numerics: {m['not_reference']})" if m["not_reference"] else "")
    )
    print(
        f"products timed alone: minimum of {out['repeats']} rounds of ~{ROUND_SECONDS * 1000:.0f} ms; "
        f"{len(out['products'])} distinct products; 1-min load average {out['load'][0]:.1f} before, "
        f"{out['load'][1]:.1f} after"
    )
    print()
    print("| run | seeds | training CPU-s | s/epoch | floor s/epoch | ratio | floor CPU-s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in out["runs"]:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        print(
            f"| {r['run']} | {r['seeds']} | {num(r['training_cpu_s'])} | {num(r['s_per_epoch'], 3)} | "
            f"{num(r['floor_s_per_epoch'], 4)} | {ratio} | {num(r['floor_cpu_s'])} |"
        )
    notes = []
    short = [
        f"{r['run']} {r['epochs_run']} of {r['seeds'] * r['epochs']}"
        for r in out["runs"]
        if r["epochs_run"] != r["seeds"] * r["epochs"]
    ]
    if short:
        notes.append(f"epochs run, of those configured (all seeds): {'; '.join(short)}")
    if out["not_trained"]:
        notes.append(f"not trained (in the config, no line in timings.csv): {', '.join(out['not_trained'])}")
    if out["not_in_config"]:
        notes.append(f"in timings.csv but not in the config (left out): {', '.join(out['not_in_config'])}")
    print("\n" + "".join(f"{n}\n" for n in notes))
    p = out["pipeline"]
    line = (
        f"pipeline: floor {num(p['floor_cpu_s'])} CPU-s for {out['networks']} networks "
        f"(training {num(out['training_cpu_s'])} CPU-s"
        + (f", {out['training_cpu_s'] / p['floor_cpu_s']:.1f}x" if p["floor_cpu_s"] else "")
        + "); "
        f"/ {p['cores']} cores = {num(p['floor_s'])} s"
    )
    if p["elapsed_ratio"] is not None:
        line += f"; elapsed {num(p['elapsed_s'])} s ({p['elapsed_from']}) = {p['elapsed_ratio']:.1f}x the floor"
    print(line)
    print(
        "rate of the products in the floor: "
        + ", ".join(f"{dtype} {rate / 1e9:.0f} GFLOP/s" for dtype, rate in out["flops_per_second"].items())
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", type=Path, default=Path("."), help="a project whose results/ are read")
    parser.add_argument("--configfile", type=Path, help="default: DIRECTORY/config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    elapsed = parser.add_mutually_exclusive_group()
    elapsed.add_argument("--elapsed", type=float, help="the pipeline's wall seconds")
    elapsed.add_argument("--snakemake-log", type=Path, nargs="+", help="Snakemake logs, one per invocation")
    parser.add_argument("--repeats", type=int, default=7, help="timing rounds per product")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.repeats)

    timings_path = args.directory / "results" / "timings.csv"
    if not timings_path.is_file():
        sys.exit(f"floor.py: no {timings_path}: the pipeline has not reported yet")
    schema = args.directory / "workflow" / "schemas" / "config.schema.yaml"  # the project's, else this one's
    schema = schema if schema.is_file() else REPO / "workflow" / "schemas" / "config.schema.yaml"
    all_runs, default_runs, mode = load_runs(args.configfile or args.directory / "config.yaml", schema)
    timings = read_timings(timings_path)
    products = sorted({p for run in timings if run in all_runs for p, _ in epoch_products(all_runs[run])})
    load_before = os.getloadavg()[0]
    seconds, machine = time_products(products, mode, args.repeats)
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine,
        "numerics": mode,
        "repeats": args.repeats,
        "load": [load_before, os.getloadavg()[0]],
        **figures(timings, all_runs, default_runs, seconds),
        "products": [
            {"kind": p[0], "rows": p[1], "n_in": p[2], "n_out": p[3], "dtype": p[4], "seconds": s}
            for p, s in seconds.items()
        ],
    }
    elapsed_s, source = args.elapsed, "--elapsed" if args.elapsed is not None else None
    if args.snakemake_log:
        spans = [snakemake_elapsed(path) for path in args.snakemake_log]
        elapsed_s = sum(s for s, _ in spans)
        unfinished = [str(path) for path, (_, done) in zip(args.snakemake_log, spans) if not done]
        source = (
            "Snakemake log"
            + ("s" if len(spans) > 1 else "")
            + (f"; unfinished: {', '.join(unfinished)}" if unfinished else "")
        )
    floor_s = out["floor_cpu_s"] / args.cores
    out["pipeline"] = {
        "floor_cpu_s": out["floor_cpu_s"],
        "cores": args.cores,
        "floor_s": floor_s,
        "elapsed_s": elapsed_s,
        "elapsed_from": source,
        "elapsed_ratio": elapsed_s / floor_s if elapsed_s is not None and floor_s else None,
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_report(out)


if __name__ == "__main__":
    main()
