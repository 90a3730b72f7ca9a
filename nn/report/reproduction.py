"""From per-seed results to per-run figures, verdicts against published ones, and paired tests.

A run here is a dict {"run", "hp", "seeds": [seed record, ...], "plots"}; a seed record is
{"seed", "metrics", "history", "timings", "predictions"} (any of them None when missing;
predictions: the uint8 predicted class of each test image). workflow/scripts/report.py
builds them; nn.report.ledger words them, nn.report.html draws them. A row scored_from another run (hp["scored_from"] =
{"run", "round"}) trains nothing: scored_run builds its seed records from that run's histories.
"""

from __future__ import annotations

from nn import stats
from nn.report import costs, verdicts


# What a published figure can be compared with: (history key, at) per reference `measure`.
# final_test_subset: evaluate's accuracy on the run's first test_subset test images (metrics.json).
MEASURES = {
    "final_test": ("test_accuracy", "final"),
    "peak_test": ("test_accuracy", "peak"),
    "final_validation": ("val_accuracy", "final"),
    "peak_validation": ("val_accuracy", "peak"),
    "final_test_subset": ("test_accuracy_subset", "final"),
}


def seed_status(seed) -> tuple[str, str]:
    """(status, error): "ok" or "failed" with the reason, from a seed's metrics (or None)."""
    m = seed.get("metrics")
    if m is None:
        return "failed", "metrics.json is missing"
    if m.get("status") == "failed":
        return "failed", str(m.get("error") or "unknown error")
    if not isinstance(m.get("test_accuracy"), (int, float)):
        return "failed", "metrics.json has no test_accuracy"
    return "ok", ""


def scored_from_text(scored: dict) -> str:
    """'scored from pitt-sigmoid-128 after round 20, not trained': where a scored_from row's figures
    come from, said wherever its figures or its (absent) training times are shown."""
    return f"scored from {scored['run']} after round {scored['round']}, not trained"


def first_rounds(history: dict, n: int) -> dict:
    """A history cut after round n: what a run of n epochs records when its first n rounds are these
    (fit's best_epoch rule again: the first lowest val_loss, else the last epoch; no early stop)."""
    cut = {k: (v[:n] if isinstance(v, list) else v) for k, v in history.items() if k not in ("status", "error")}
    val = cut.get("val_loss")
    return {**cut, "stopped_early": False, "best_epoch": val.index(min(val)) + 1 if val else n}


def _scored_failure(parent_seed, name: str, seed: int, n: int) -> str | None:
    # why parent_seed's history cannot give the test accuracy after round n (None if it can)
    history = (parent_seed or {}).get("history")
    if not isinstance(history, dict):
        return f"{name} seed {seed}: history.json is missing"
    curve = history.get("test_accuracy")
    if not isinstance(curve, list) or not isinstance(history.get("test_loss"), list):
        return f"{name} seed {seed}: its history has no test accuracy per round (monitor_test)"
    if len(curve) < n:
        why = f" ({history['error']})" if history.get("status") == "failed" else ""
        return f"{name} seed {seed}: its history ends after round {len(curve)}, before round {n}{why}"
    return None


def scored_seed(parent_seed, seed: int, scored: dict, n_test: int) -> dict:
    """The seed record of a row scored_from another run: the test accuracy and loss after round
    scored["round"] of that run's seed `seed` (its monitored test set, n_test images), its history cut
    there; no timings and no predictions (nothing was trained or evaluated)."""
    name, n = scored["run"], scored["round"]
    error = _scored_failure(parent_seed, name, seed, n)
    if error:
        return {
            "seed": seed,
            "metrics": {"status": "failed", "error": error},
            "history": None,
            "timings": None,
            "predictions": None,
        }
    history = parent_seed["history"]
    metrics = {
        "seed": seed,
        "test_accuracy": history["test_accuracy"][n - 1],
        "test_loss": history["test_loss"][n - 1],
        "n_test": n_test,
        "scored_from": dict(scored),
    }
    return {"seed": seed, "metrics": metrics, "history": first_rounds(history, n), "timings": None, "predictions": None}


def scored_run(name: str, hp: dict, seeds, parent: dict, n_test: int) -> dict:
    """A run dict for a row scored_from `parent` (a run dict holding its seeds): one scored_seed per seed."""
    by_seed = {s["seed"]: s for s in parent["seeds"]}
    return {
        "run": name,
        "hp": hp,
        "plots": {},
        "seeds": [scored_seed(by_seed.get(seed), seed, hp["scored_from"], n_test) for seed in seeds],
    }


def measured(seed, measure: str) -> float | None:
    """A seed's figure for a reference `measure` (MEASURES): the final test accuracy
    from evaluation, or the final / peak of a per-epoch history curve."""
    key, at = MEASURES[measure]
    if measure in ("final_test", "final_test_subset"):
        return seed["metrics"].get(key)
    curve = (seed.get("history") or {}).get(key) or []
    if not curve:
        return None
    return max(curve) if at == "peak" else curve[-1]


def _n_measured(hp, seed, measure) -> int:
    # the size of the set a figure was measured on: the test set, or the held-out validation images
    if MEASURES[measure][0] == "val_accuracy":
        return hp["validation"]
    if measure == "final_test_subset":
        return seed["metrics"]["test_subset"]
    return seed["metrics"].get("n_test") or 10000


def run_row(run) -> dict:
    """One run's line: seeds, the test-accuracy statistics over them, and the verdict."""
    hp, seeds = run["hp"], run["seeds"]
    ok = [s for s in seeds if seed_status(s)[0] == "ok"]
    errors = [f"seed {s['seed']}: {seed_status(s)[1]}" for s in seeds if seed_status(s)[0] != "ok"]
    status = "ok" if not errors else ("failed" if not ok else "partial")
    ref = hp.get("reference") or {}
    row = {
        "run": run["run"],
        "status": status,
        "error": "; ".join(errors),
        "n_seeds": len(seeds),
        "n_ok": len(ok),
        "seeds": [s["seed"] for s in seeds],
        "test_accuracies": [s["metrics"]["test_accuracy"] for s in ok],
        "reference_accuracy": ref.get("accuracy"),
        "reference_source": ref.get("source"),
        "reference_kind": ref.get("kind") if ref else None,
        "measure": ref.get("measure") if ref else None,
        "evidence": ref.get("evidence"),
        "band": ref.get("band"),
        "measured": [],
        "verdict": None,
        "gap": None,
        "z": None,
        "half_width": None,
        "interval": None,
        "excluded": [],
        "scored_from": hp.get("scored_from"),
        "costs": [],
        "contradiction": "",
    }
    acc = stats.sample_summary(row["test_accuracies"]) if ok else {}
    row.update({f"test_accuracy_{k}": acc.get(k) for k in ("mean", "sd", "min", "max", "ci_low", "ci_high")})
    row["test_loss_mean"] = stats.sample_summary([s["metrics"]["test_loss"] for s in ok])["mean"] if ok else None
    row["n_test"] = ok[0]["metrics"].get("n_test") if ok else None
    epochs = [len(s["history"]["epoch"]) for s in ok if s.get("history")]
    row["epochs_run"] = max(epochs) if epochs else None
    secs = [s["timings"]["total_seconds"] for s in seeds if (s.get("timings") or {}).get("total_seconds") is not None]
    row["train_seconds_mean"] = sum(secs) / len(secs) if secs else None
    if ref and ok:
        values = [measured(s, ref["measure"]) for s in ok]
        row["measured"] = [v for v in values if v is not None]
        if row["measured"]:
            row["measured_stats"] = stats.sample_summary(row["measured"])  # read by ours_text and the ledger
            row["measured_mean"] = row["measured_stats"]["mean"]
            judged_values = row["measured"]
            if MEASURES[ref["measure"]][1] == "peak":  # the stall rule is about peaks
                stalled = verdicts.stalls(row["measured"])
                row["n_stalled"] = stalled["n_stalled"]
                if ref.get("exclude_stalled"):  # one published run of a protocol that sometimes stalls
                    row["excluded"] = stalled["stalled"]  # indices into measured: left out of the verdict
                    judged_values = [v for i, v in enumerate(row["measured"]) if i not in stalled["stalled"]]
                    row["judged_stats"] = stats.sample_summary(judged_values)
            n_measured = _n_measured(hp, ok[0], ref["measure"])
            if ref.get("best_of", 1) > 1:
                judged = _best_of_verdict(ref, judged_values, n_measured)
                row["error"] = "; ".join(filter(None, [row["error"], judged.pop("error", "")]))
                row.update(judged)
            else:
                v = verdicts.verdict(ref["accuracy"], judged_values, n_measured)
                row.update(
                    gap=v["gap"],
                    z=v["z"],
                    half_width=v["half_width"],
                    verdict=v["verdict"],
                    interval=(v["low"], v["high"]),
                )
            # a different protocol can be compared but not reproduced: no verdict word for it
            if ref["kind"] != "reproduction":
                row["verdict"] = "comparison"
        # published training costs beside ours; one out of the protocol's reach overrules the figure's verdict
        row["costs"] = costs.cost_rows(hp, ok)
        if ref["kind"] == "reproduction" and (why := costs.contradiction(row["costs"])):
            row.update(verdict="contradicts", contradiction=why)
    return row


def _best_of_verdict(ref, values, n_measured) -> dict:
    """A published best of k runs (reference best_of: k) against the best of k of our seeds
    (stats.best_of_k: every k-subset), judged by the same rule on that interval."""
    k = ref["best_of"]
    if len(values) < k:  # the config asks for 2k seeds; failed seeds can leave fewer
        return {"verdict": None, "error": f"best of {k} needs at least {k} finished seeds, {len(values)} finished"}
    b = stats.best_of_k(values, k, published=ref["accuracy"])
    return {
        "best_of_k": b,
        "gap": ref["accuracy"] - b["mean"],
        "z": None,
        "half_width": (b["high"] - b["low"]) / 2,
        "interval": (b["low"], b["high"]),
        "verdict": verdicts.judge(ref["accuracy"], b["low"], b["high"], len(values), n_measured),
    }


def rows_best_first(runs) -> list[dict]:
    """run_row of every run, best mean test accuracy first, ties by name; failed runs last."""
    rows = [run_row(r) for r in runs]
    return sorted(rows, key=lambda r: (r["test_accuracy_mean"] is None, -(r["test_accuracy_mean"] or 0.0), r["run"]))


def paired_tests(runs, pairs, labels, best: str | None) -> list[dict]:
    """McNemar's exact test for each configured (A, B) pair and each run against `best`.

    Seeds are paired in order (A's first seed with B's first, ...): one test per seed pair.
    Returns one dict per comparison: the first seed pair's counts and p-value, and how many
    of the seed pairs differ at p < 0.05.
    """
    by_name = {r["run"]: r for r in runs}
    wanted = list(dict.fromkeys(list(pairs) + [(name, best) for name in by_name if best and name != best]))
    out = []
    for a, b in wanted:
        tests = []
        for sa, sb in zip(by_name[a]["seeds"], by_name[b]["seeds"]):
            if seed_status(sa)[0] != "ok" or seed_status(sb)[0] != "ok":
                continue
            if sa.get("predictions") is None or sb.get("predictions") is None:  # a scored_from row has none
                continue
            tests.append(stats.mcnemar(sa["predictions"] == labels, sb["predictions"] == labels))
        if not tests:
            continue
        first = tests[0]
        out.append(
            {
                "a": a,
                "b": b,
                "vs_best": (a, b) not in pairs,
                "only_a": first["only_a"],
                "only_b": first["only_b"],
                "p_value": first["p_value"],
                "n_pairs": len(tests),
                "n_significant": sum(t["p_value"] < 0.05 for t in tests),
            }
        )
    return out


def seed_rows(runs) -> list[dict]:
    """One line per run and seed: what seeds.csv holds."""
    out = []
    for run in runs:
        for s in run["seeds"]:
            status, error = seed_status(s)
            m, h = s.get("metrics") or {}, s.get("history") or {}
            peak = max(h["test_accuracy"]) if h.get("test_accuracy") else None
            out.append(
                {
                    "run": run["run"],
                    "seed": s["seed"],
                    "status": status,
                    "test_accuracy": m.get("test_accuracy") if status == "ok" else None,
                    "test_loss": m.get("test_loss") if status == "ok" else None,
                    "peak_test_accuracy": peak,
                    "final_val_accuracy": h["val_accuracy"][-1] if h.get("val_accuracy") else None,
                    "epochs_run": len(h["epoch"]) if h.get("epoch") is not None else None,
                    "error": error,
                }
            )
    return out


def timing_rows(runs) -> list[dict]:
    """One line per trained run and seed: its training's wall times, what timings.csv holds (kept apart
    from seeds.csv and summary.csv, which two runs of the same config then write byte for byte). A row
    scored_from another trained nothing: it has no line."""
    out = []
    for run in runs:
        if run["hp"].get("scored_from"):
            continue
        for s in run["seeds"]:
            t = s.get("timings") or {}
            out.append(
                {
                    "run": run["run"],
                    "seed": s["seed"],
                    "train_seconds": t.get("total_seconds"),
                    "epoch_seconds": " ".join(map(str, t.get("epoch_seconds") or [])),
                    "resumed_after": " ".join(map(str, t.get("resumed_after") or [])),
                }
            )
    return out
