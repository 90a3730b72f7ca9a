"""Does a user's results/ reproduce the committed reference? One verdict per run.

    python -m nn.pipeline.verify [--results results] [--manifest reference/manifest.json]

The reference manifest (JSON) holds, per run and seed, the SHA-256 of each result file, the
test accuracy, and which test images the seed gets right (np.packbits of the 10,000 booleans,
base64: 1,250 bytes), so McNemar's test can run against it without the reference's files:

    {"format": "nn-manifest", "version": 1, "fingerprint": "0c7343d46669fb93",
     "provenance": {...nn.pipeline.numerics.provenance()...},
     "runs": {run: {"seeds": {"1": {"files": {"model.npz": sha256, ...}, "test_accuracy": 0.9939,
                                    "n_test": 10000, "correct": base64 or null}}}}}

Verdicts, one per run:
- "byte-identical": every reference seed is there and each of its files has the same bytes.
- "same statistics": other bytes, but the run's mean test accuracy lies inside the reference's
  95% interval for it: mean_ref ± t(n_ref-1) · sd_ref · sqrt(1/n_ref + 1/n_yours), Student's t
  over the reference seeds; with one reference seed, its binomial standard error on the test
  images, sqrt(p(1-p)/n_test), stands in for the seeds' spread (and 1.96 for t).
- "different": the mean lies outside that interval; the line gives McNemar's exact test per
  seed (reference seed s against your seed s, on the test images both classified).
A run of the manifest that your results do not have is "not verifiable" (said in its line),
never "different". When bytes differ, the line says whether the numerics fingerprints differ
(nn.pipeline.numerics.fingerprint), and in what, or whether the difference comes from elsewhere.
The command exits 1 only if some run is "different", 2 on a missing or bad manifest.

numpy is imported inside functions, not here: main() pins the numerics (nn.pipeline.numerics)
before numpy loads, so the fingerprint it computes is that of the pipeline's pinned jobs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import math
import sys
from pathlib import Path

FORMAT = "nn-manifest"
VERSION = 1
# a seed's result files (timings.json is left out: its seconds differ every run)
FILES = ("model.npz", "history.json", "metrics.json", "confusion.csv", "test-predictions.npy")
VERDICTS = ("byte-identical", "same statistics", "different")
NOT_VERIFIABLE = "not verifiable"
TEST_LABELS = Path("data") / "test-labels.npy"


def sha256_file(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _seed_dirs(run_dir: Path) -> dict[str, Path]:
    """{"1": run_dir/seed-1, ...} for the seed folders of a run, in seed order."""
    found = {}
    for d in run_dir.glob("seed-*"):
        seed = d.name[len("seed-") :]
        if d.is_dir() and seed.isdigit():
            found[str(int(seed))] = d
    return dict(sorted(found.items(), key=lambda kv: int(kv[0])))


def _test_labels(results_dir: Path):
    """The test labels of results_dir (data/test-labels.npy), or None if it has none."""
    import numpy as np

    path = results_dir / TEST_LABELS
    if not path.is_file():
        return None
    return np.load(path, allow_pickle=False)


def _correct(predictions_path: Path, labels):
    """(n,) bools: which test images the seed's predictions get right; None for a failed seed
    (empty predictions), missing labels, or predictions that do not match the labels' length."""
    import numpy as np

    if labels is None or not predictions_path.is_file():
        return None
    predicted = np.load(predictions_path, allow_pickle=False)
    if predicted.shape != labels.shape or predicted.size == 0:
        return None
    return predicted == labels


def pack_correct(correct) -> str:
    """(n,) bools -> base64 of np.packbits (1,250 characters' worth of bytes for 10,000 images)."""
    import numpy as np

    return base64.b64encode(np.packbits(np.asarray(correct, bool)).tobytes()).decode("ascii")


def unpack_correct(text: str, n: int):
    import numpy as np

    bits = np.frombuffer(base64.b64decode(text, validate=True), np.uint8)
    if bits.size != (n + 7) // 8:
        raise ValueError(f"manifest: a 'correct' entry holds {bits.size} bytes, not {(n + 7) // 8} for {n} images")
    return np.unpackbits(bits, count=n).astype(bool)


def _accuracy(metrics_path: Path):
    """test_accuracy from a metrics.json (None for a failed seed); raises ValueError if unreadable."""
    from nn.fileio import read_json

    metrics = read_json(metrics_path)
    acc = metrics.get("test_accuracy") if isinstance(metrics, dict) else None
    if acc is not None and not (isinstance(acc, (int, float)) and math.isfinite(acc)):
        raise ValueError(f"{metrics_path}: test_accuracy {acc!r} is not a number")
    return acc


def make_manifest(results_dir, runs=None, provenance=None) -> dict:
    """The manifest of results_dir's runs (all in results_dir/runs, or the names in `runs`).

    Every seed folder must be complete (the files of FILES): a reference is made from a
    finished pipeline. provenance: numerics.provenance() of the machine that made the results;
    None computes it here (so make the manifest where the pipeline ran, as it ran).
    """
    results_dir = Path(results_dir)
    runs_dir = results_dir / "runs"
    names = sorted(d.name for d in runs_dir.iterdir() if d.is_dir() and _seed_dirs(d)) if runs is None else list(runs)
    if not names:
        raise ValueError(f"{runs_dir}: no runs with seed folders; run the pipeline first")
    labels = _test_labels(results_dir)
    if labels is None:
        raise ValueError(
            f"{results_dir / TEST_LABELS}: missing; the manifest needs the test labels to record "
            f"which images each seed gets right"
        )
    if provenance is None:
        from nn.pipeline import numerics

        provenance = numerics.provenance()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": provenance.get("fingerprint"),
        "provenance": provenance,
        "runs": {},
    }
    for run in names:
        seeds = _seed_dirs(runs_dir / run)
        if not seeds:
            raise ValueError(f"{runs_dir / run}: no seed folders (seed-N); is {run!r} a run of this pipeline?")
        entry = {}
        for seed, d in seeds.items():
            missing = [f for f in FILES if not (d / f).is_file()]
            if missing:
                raise ValueError(f"{d}: {', '.join(missing)} missing; make the manifest from a finished pipeline")
            correct = _correct(d / "test-predictions.npy", labels)
            entry[seed] = {
                "files": {f: sha256_file(d / f) for f in FILES},
                "test_accuracy": _accuracy(d / "metrics.json"),
                "n_test": int(labels.size),
                "correct": None if correct is None else pack_correct(correct),
            }
        manifest["runs"][run] = {"seeds": entry}
    return manifest


def check_manifest(manifest) -> None:
    """Raise ValueError unless `manifest` looks like one make_manifest wrote."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ValueError(f"manifest: not an {FORMAT} file (format {found!r})")
    if manifest.get("version") != VERSION:
        raise ValueError(f"manifest: version {manifest.get('version')!r}, this code reads version {VERSION}")
    runs = manifest.get("runs")
    if not isinstance(runs, dict) or not all(
        isinstance(r, dict) and isinstance(r.get("seeds"), dict) and r["seeds"] for r in runs.values()
    ):
        raise ValueError("manifest: 'runs' must map each run to {'seeds': {seed: {...}}} with at least one seed")


def interval(ref_accuracies, n_yours: int, n_test: int) -> tuple[float, float]:
    """(mean, half width): the 95% interval the mean of n_yours seeds should fall in if they
    reproduce the reference's statistics (module docstring)."""
    from nn.stats import Z95, sample_summary, t_quantile

    s = sample_summary(ref_accuracies)
    n, mean = s["n"], s["mean"]
    if n > 1:
        spread, q = s["sd"], t_quantile(0.975, n - 1)
    else:  # one seed: no spread to measure; the test set's binomial standard error instead
        spread, q = math.sqrt(max(mean * (1 - mean), 0.0) / n_test), Z95
    return mean, q * spread * math.sqrt(1 / n + 1 / n_yours)


def _numerics_reason(manifest, fingerprint_now, provenance_now) -> str:
    ref = manifest.get("fingerprint")
    if ref == fingerprint_now:
        return (
            f"the numerics fingerprints are equal ({ref}), so the difference comes from elsewhere: "
            f"config, code, data, package versions or BLAS threads"
        )
    said = f"the numerics fingerprints differ (reference {ref}, here {fingerprint_now})"
    ref_p = manifest.get("provenance") or {}
    if provenance_now:
        diffs = []
        pairs = (
            ("numpy", lambda p: p.get("numpy")),
            ("numpy's active targets", lambda p: " ".join((p.get("numpy_dispatch") or {}).get("active") or []) or None),
            ("BLAS", lambda p: (p.get("blas") or {}).get("name")),
            ("BLAS version", lambda p: (p.get("blas") or {}).get("version")),
            ("OpenBLAS kernel", lambda p: (p.get("blas") or {}).get("corename")),
            ("CPU", lambda p: p.get("cpu")),
        )
        for what, get in pairs:
            a, b = get(ref_p), get(provenance_now)
            if a != b:
                diffs.append(f"{what} {a} there, {b} here")
        if provenance_now.get("honoured"):
            diffs.append(provenance_now["honoured"])
        if diffs:
            said += ": " + "; ".join(diffs)
    return said


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _percent(x: float) -> str:
    return f"{100 * x:.2f} %"


def verify_run(results_dir: Path, run: str, ref_run: dict, labels, numerics_reason: str) -> tuple[str, str]:
    """(verdict, line) for one run of the manifest."""
    from nn.stats import mcnemar

    run_dir = results_dir / "runs" / run
    ref_seeds = ref_run["seeds"]
    mine = _seed_dirs(run_dir) if run_dir.is_dir() else {}
    if not mine:
        return NOT_VERIFIABLE, f"not in your results ({run_dir} has no seed folders): nothing to compare"

    # bytes, seed by seed
    missing_seeds, differing = [], {}
    for seed, ref in ref_seeds.items():
        d = mine.get(seed)
        if d is None:
            missing_seeds.append(seed)
            continue
        bad = [f for f, digest in ref["files"].items() if not (d / f).is_file() or sha256_file(d / f) != digest]
        if bad:
            differing[seed] = bad
    if not missing_seeds and not differing:
        n_files = sum(len(ref["files"]) for ref in ref_seeds.values())
        return "byte-identical", f"{_seeds(len(ref_seeds))}, {n_files} files, same bytes"

    # statistics: your seeds that have a metrics.json against the reference's accuracies
    notes = []
    if missing_seeds:
        notes.append(f"seed {', '.join(missing_seeds)} missing")
    if differing:
        files = sorted({f for bad in differing.values() for f in bad})
        notes.append(f"bytes differ in {', '.join(files)} (seed {', '.join(differing)})")
    yours, unreadable = {}, []
    for seed, d in mine.items():
        if (d / "metrics.json").is_file():
            try:
                yours[seed] = _accuracy(d / "metrics.json")
            except (OSError, ValueError):
                unreadable.append(seed)
    if unreadable:
        notes.append(f"metrics.json of seed {', '.join(unreadable)} unreadable")
    if not yours:
        return NOT_VERIFIABLE, "; ".join(notes + ["no metrics.json in your seed folders: no accuracy to compare"])
    ref_acc = [r["test_accuracy"] for r in ref_seeds.values() if r.get("test_accuracy") is not None]
    your_acc = [a for a in yours.values() if a is not None]
    n_test = next((r.get("n_test") for r in ref_seeds.values() if r.get("n_test")), 10000)
    notes.append(numerics_reason)
    if not ref_acc or not your_acc:
        if not ref_acc and not your_acc:
            return "same statistics", "; ".join(["every seed failed in both (no test accuracy)"] + notes)
        failed = "the reference's seeds all failed" if not ref_acc else "your seeds all failed"
        return "different", "; ".join([f"{failed} (no test accuracy), the other side's did not"] + notes)

    mean_ref, half = interval(ref_acc, len(your_acc), n_test)
    mean = math.fsum(your_acc) / len(your_acc)
    where = (
        f"your mean {_percent(mean)} ({_seeds(len(your_acc))}) vs the reference's {100 * mean_ref:.2f} "
        f"± {_percent(half)} ({_seeds(len(ref_acc))})"
    )
    if abs(mean - mean_ref) <= half:
        return "same statistics", "; ".join([where + ": inside"] + notes)

    tests = []
    for seed, ref in ref_seeds.items():
        if seed in mine and ref.get("correct"):
            correct = _correct(mine[seed] / "test-predictions.npy", labels)
            if correct is not None and correct.size == ref.get("n_test"):
                m = mcnemar(unpack_correct(ref["correct"], ref["n_test"]), correct)
                tests.append(
                    f"seed {seed} p {m['p_value']:.2g} (right only in the reference {m['only_a']}, "
                    f"only in yours {m['only_b']})"
                )
    mc = ("McNemar: " + ", ".join(tests)) if tests else "McNemar: not run (no predictions or test labels on both sides)"
    return "different", "; ".join([where + ": outside", mc] + notes)


def verify(results_dir, manifest, fingerprint_now, provenance_now=None) -> list[tuple[str, str, str]]:
    """[(run, verdict, line)] for every run of the manifest, in name order.

    verdict: one of VERDICTS, or NOT_VERIFIABLE for a run your results do not have.
    fingerprint_now: numerics.fingerprint() here; provenance_now (optional): numerics.provenance()
    here, to say in what the numerics differ from the reference's.
    """
    check_manifest(manifest)
    results_dir = Path(results_dir)
    labels = _test_labels(results_dir)
    reason = _numerics_reason(manifest, fingerprint_now, provenance_now)
    return [
        (run, *verify_run(results_dir, run, manifest["runs"][run], labels, reason)) for run in sorted(manifest["runs"])
    ]


def summary(rows, fingerprint_now, manifest) -> str:
    counts = {v: sum(1 for _, verdict, _ in rows if verdict == v) for v in (*VERDICTS, NOT_VERIFIABLE)}
    said = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return (
        f"{len(rows)} runs: {said}; numerics fingerprint here {fingerprint_now}, "
        f"reference {manifest.get('fingerprint')}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nn.pipeline.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="the results folder to check (default: results)")
    parser.add_argument(
        "--manifest",
        default="reference/manifest.json",
        help="the reference manifest (default: reference/manifest.json)",
    )
    parser.add_argument(
        "--numerics",
        choices=("pinned", "native"),
        default="pinned",
        help="numerics to compute this machine's fingerprint with, as the pipeline's jobs ran (default: pinned)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="make the manifest from --results and write it to --manifest, instead of checking",
    )
    args = parser.parse_args(argv)

    from nn.pipeline import numerics

    applied = numerics.pin(args.numerics)  # before numpy loads, for the fingerprint
    if applied.warning:
        print(f"warning: {applied.warning}", file=sys.stderr)
    provenance_now = numerics.provenance()
    if args.write:
        try:
            manifest = make_manifest(args.results, provenance=provenance_now)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        from nn.fileio import write_json

        Path(args.manifest).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.manifest, manifest)
        print(f"wrote {args.manifest}: {len(manifest['runs'])} runs, fingerprint {manifest['fingerprint']}")
        return 0
    try:
        from nn.fileio import read_json  # bounded in size and nesting

        manifest = read_json(args.manifest)
        rows = verify(args.results, manifest, provenance_now["fingerprint"], provenance_now)
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    width = max(len(run) for run, _, _ in rows)
    for run, verdict, line in rows:
        print(f"{run:<{width}}  {verdict}: {line}")
    print(summary(rows, provenance_now["fingerprint"], manifest))
    return 1 if any(verdict == "different" for _, verdict, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
