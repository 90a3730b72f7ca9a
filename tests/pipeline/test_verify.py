"""nn.pipeline.verify on tiny fake results folders: each verdict, McNemar, the CLI's exit codes."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn.pipeline import numerics
from nn.pipeline.verify import FILES, NOT_VERIFIABLE, interval, make_manifest, pack_correct, unpack_correct, verify

REPO = Path(__file__).resolve().parents[2]
N_TEST = 200
FP = "0123456789abcdef"
PROVENANCE = {
    "fingerprint": FP,
    "numpy": "2.4.6",
    "cpu": "Test CPU",
    "numpy_dispatch": {"active": ["X86_V3"]},
    "blas": {"name": "scipy-openblas", "corename": "Haswell"},
}


def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 10, N_TEST).astype(np.uint8)


def write_seed(d: Path, accuracy: float, weights: bytes, rng) -> None:
    """One seed's result files, as the pipeline names them, with `accuracy` on the fake test set."""
    d.mkdir(parents=True, exist_ok=True)
    y = labels()
    n_right = round(accuracy * N_TEST)
    right = np.zeros(N_TEST, bool)
    right[rng.choice(N_TEST, n_right, replace=False)] = True
    predicted = np.where(right, y, (y + 1) % 10).astype(np.uint8)
    np.save(d / "test-predictions.npy", predicted)
    (d / "metrics.json").write_text(json.dumps({"test_accuracy": n_right / N_TEST, "n_test": N_TEST}))
    (d / "model.npz").write_bytes(weights)
    (d / "history.json").write_text(json.dumps({"epoch": [1], "train_loss": [0.5]}))
    (d / "confusion.csv").write_text(f"true,predicted,count\n0,0,{n_right}\n")
    (d / "timings.json").write_text(json.dumps({"total_seconds": float(rng.random())}))  # never compared


def fake_results(root: Path, runs: dict, weights: bytes = b"weights", seed: int = 0) -> Path:
    """root/results with {run: [accuracy of seed 1, seed 2, ...]} and the test labels."""
    results = root / "results"
    (results / "data").mkdir(parents=True, exist_ok=True)
    np.save(results / "data" / "test-labels.npy", labels())
    rng = np.random.default_rng(seed)
    for run, accuracies in runs.items():
        for i, acc in enumerate(accuracies, 1):
            write_seed(results / "runs" / run / f"seed-{i}", acc, weights + run.encode() + bytes([i]), rng)
    return results


REFERENCE = {"a": [0.90, 0.91, 0.92], "b": [0.80, 0.81, 0.82], "one-seed": [0.85]}


@pytest.fixture
def reference(tmp_path):
    results = fake_results(tmp_path / "ref", REFERENCE)
    return results, make_manifest(results, provenance=PROVENANCE)


def verdicts(rows):
    return {run: verdict for run, verdict, _ in rows}


def lines(rows):
    return {run: line for run, _, line in rows}


def test_the_manifest_holds_hashes_accuracies_and_the_correct_images(reference):
    results, manifest = reference
    assert manifest["format"] == "nn-manifest" and manifest["version"] == 1 and manifest["fingerprint"] == FP
    seed = manifest["runs"]["a"]["seeds"]["2"]
    assert sorted(seed["files"]) == sorted(FILES) and "timings.json" not in seed["files"]
    assert seed["test_accuracy"] == 0.91 and seed["n_test"] == N_TEST
    correct = unpack_correct(seed["correct"], N_TEST)
    predicted = np.load(results / "runs" / "a" / "seed-2" / "test-predictions.npy")
    assert np.array_equal(correct, predicted == labels()) and correct.sum() == 182
    json.dumps(manifest)  # JSON-ready


def test_pack_and_unpack_10000_images_in_1250_bytes():
    correct = np.random.default_rng(3).random(10_000) < 0.97
    text = pack_correct(correct)
    assert len(text) == math.ceil(1250 / 3) * 4  # base64 of 1,250 bytes
    assert np.array_equal(unpack_correct(text, 10_000), correct)
    with pytest.raises(ValueError, match="1250"):
        unpack_correct(text[:-8], 10_000)


def test_the_same_results_are_byte_identical(reference):
    results, manifest = reference
    rows = verify(results, manifest, FP)
    assert verdicts(rows) == {"a": "byte-identical", "b": "byte-identical", "one-seed": "byte-identical"}
    assert lines(rows)["a"] == "3 seeds, 15 files, same bytes"


def test_other_bytes_with_the_same_accuracies_are_the_same_statistics(reference, tmp_path):
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", REFERENCE, weights=b"other weights", seed=1)
    rows = verify(mine, manifest, FP)
    assert set(verdicts(rows).values()) == {"same statistics"}
    line = lines(rows)["a"]
    assert "bytes differ in model.npz, test-predictions.npy (seed 1, 2, 3)" in line
    assert "inside" in line and "fingerprints are equal" in line and "elsewhere" in line


def test_the_line_says_why_when_the_fingerprints_differ(reference, tmp_path):
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", REFERENCE, weights=b"other weights", seed=1)
    here = {
        **PROVENANCE,
        "fingerprint": "fedcba9876543210",
        "numpy_dispatch": {"active": ["X86_V3", "X86_V4"]},
        "blas": {"name": "scipy-openblas", "corename": "SkylakeX"},
        "honoured": "numpy runs its X86_V4 loops",
    }
    line = lines(verify(mine, manifest, "fedcba9876543210", here))["b"]
    assert "fingerprints differ (reference 0123456789abcdef, here fedcba9876543210)" in line
    assert "numpy's active targets X86_V3 there, X86_V3 X86_V4 here" in line
    assert "OpenBLAS kernel Haswell there, SkylakeX here" in line and "numpy runs its X86_V4 loops" in line


def test_a_mean_outside_the_interval_is_different_with_mcnemar(reference, tmp_path):
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", {"a": [0.60, 0.61, 0.62], "b": [0.81, 0.80, 0.82], "one-seed": [0.95]})
    rows = verify(mine, manifest, FP)
    assert verdicts(rows) == {"a": "different", "b": "same statistics", "one-seed": "different"}
    line = lines(rows)["a"]
    assert "your mean 61.00 % (3 seeds) vs the reference's 91.00 ± 3.51 % (3 seeds): outside" in line
    assert line.count("McNemar") == 1 and "seed 1 p " in line and "seed 3 p " in line
    p = float(line.split("seed 1 p ")[1].split()[0])
    assert p < 1e-6  # 60 % against 90 % on 200 images


def test_mcnemar_is_said_to_be_impossible_without_test_labels(reference, tmp_path):
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", {"a": [0.60, 0.61, 0.62]})
    (mine / "data" / "test-labels.npy").unlink()
    line = lines(verify(mine, manifest, FP))["a"]
    assert "McNemar: not run" in line


def test_missing_runs_and_seeds_are_said_not_judged(reference, tmp_path):
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", {"a": [0.90, 0.91]})  # no seed 3, no run b
    rows = verify(mine, manifest, FP)
    assert verdicts(rows) == {"a": "same statistics", "b": NOT_VERIFIABLE, "one-seed": NOT_VERIFIABLE}
    assert "seed 3 missing" in lines(rows)["a"] and "not in your results" in lines(rows)["b"]


def test_interval_by_hand():
    mean, half = interval([0.90, 0.91, 0.92], 3, 10_000)
    assert mean == pytest.approx(0.91)
    assert half == pytest.approx(4.302653 * 0.01 * math.sqrt(2 / 3), rel=1e-5)
    mean, half = interval([0.9], 1, 10_000)  # one seed: binomial standard error on 10,000 images
    assert half == pytest.approx(1.959964 * math.sqrt(0.9 * 0.1 / 10_000) * math.sqrt(2), rel=1e-6)


def test_a_bad_manifest_is_refused(reference, tmp_path):
    results, manifest = reference
    with pytest.raises(ValueError, match="not an nn-manifest"):
        verify(results, {**manifest, "format": "other"}, FP)
    with pytest.raises(ValueError, match="version 2"):
        verify(results, {**manifest, "version": 2}, FP)


def test_make_manifest_refuses_an_unfinished_seed(tmp_path):
    results = fake_results(tmp_path, {"a": [0.9]})
    (results / "runs" / "a" / "seed-1" / "metrics.json").unlink()
    with pytest.raises(ValueError, match="metrics.json missing"):
        make_manifest(results, provenance=PROVENANCE)


# --- the command ----------------------------------------------------------------------------------


def cli(*args, **changes) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    numerics.pin("pinned", env)  # the subprocess's own environment, kernel Haswell
    for var, value in changes.items():  # None removes a variable
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    assert env["OPENBLAS_CORETYPE"] == "Haswell"
    return subprocess.run(
        [sys.executable, "-m", "nn.pipeline.verify", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exit_codes(reference, tmp_path):
    ref_results, manifest = reference
    manifest_path = tmp_path / "reference" / "manifest.json"
    manifest_path.parent.mkdir()
    manifest_path.write_text(json.dumps(manifest))

    same = cli("--results", ref_results, "--manifest", manifest_path)
    assert same.returncode == 0, same.stderr
    out = same.stdout.splitlines()
    assert len(out) == 4 and out[0].split() == ["a", "byte-identical:", "3", "seeds,", "15", "files,", "same", "bytes"]
    assert out[-1].startswith("3 runs: 3 byte-identical; numerics fingerprint here ")

    shutil.rmtree(ref_results / "runs" / "b")  # missing: said, not "different"
    assert cli("--results", ref_results, "--manifest", manifest_path).returncode == 0

    worse = fake_results(tmp_path / "worse", {"a": [0.5, 0.5, 0.5], "b": [0.8, 0.81, 0.82], "one-seed": [0.85]})
    different = cli("--results", worse, "--manifest", manifest_path)
    assert different.returncode == 1, different.stderr
    first = different.stdout.splitlines()[0]
    assert first.split()[:3] == ["a", "different:", "your"] and "mean 50.00 %" in first
    assert "1 different" in different.stdout.splitlines()[-1]

    missing = cli("--results", worse, "--manifest", tmp_path / "nowhere.json")
    assert missing.returncode == 2 and "nowhere.json" in missing.stderr


def test_cli_writes_a_manifest_that_verifies(tmp_path):
    results = fake_results(tmp_path, {"a": [0.9, 0.91]})
    manifest_path = tmp_path / "reference" / "manifest.json"
    # without numpy's cap in its environment: the command pins it itself, before numpy loads
    wrote = cli("--results", results, "--manifest", manifest_path, "--write", NPY_DISABLE_CPU_FEATURES=None)
    assert wrote.returncode == 0, wrote.stderr
    manifest = json.loads(manifest_path.read_text())
    assert manifest["provenance"]["settings"]["NPY_DISABLE_CPU_FEATURES"] == numerics.PINNED["NPY_DISABLE_CPU_FEATURES"]
    assert manifest["provenance"]["numpy_dispatch"]["active"] == ["X86_V3"]
    assert manifest["fingerprint"] == manifest["provenance"]["fingerprint"]
    check = cli("--results", results, "--manifest", manifest_path)
    assert check.returncode == 0 and "a  byte-identical" in check.stdout


def test_a_failed_seed_is_not_counted_among_yours(reference, tmp_path):
    """Seed 3 of run a failed (no test accuracy): 'same statistics' is judged on the two that finished,
    their count and the interval for two seeds, never three."""
    _, manifest = reference
    mine = fake_results(tmp_path / "mine", {"a": [0.90, 0.91, 0.92]}, weights=b"other weights", seed=1)
    (mine / "runs" / "a" / "seed-3" / "metrics.json").write_text(
        json.dumps({"status": "failed", "error": "training diverged", "test_accuracy": None})
    )
    verdict, line = next((v, text) for run, v, text in verify(mine, manifest, FP) if run == "a")
    mean_ref, half = interval(REFERENCE["a"], 2, N_TEST)
    assert verdict == "same statistics", line
    assert f"your mean 90.50 % (2 seeds) vs the reference's {100 * mean_ref:.2f} ± {100 * half:.2f} % (3 seeds)" in line
    assert interval(REFERENCE["a"], 3, N_TEST)[1] != half  # the count decides the width: a wrong one shows
