"""From per-seed results to per-run figures, verdicts against published ones, and paired tests.

A run here is a dict {"run", "hp", "seeds": [seed record, ...], "plots"}; a seed record is
{"seed", "metrics", "history", "timings", "predictions"} (any of them None when missing;
predictions: the uint8 predicted class of each test image). workflow/scripts/report.py
builds them; nn.report.html draws them. A row scored_from another run (hp["scored_from"] =
{"run", "round"}) trains nothing: scored_run builds its seed records from that run's histories.
"""
from __future__ import annotations

from nn import stats
from nn.optim import OPTIMIZERS


# What a published figure can be compared with: (history key, at) per reference `measure`.
# final_test_subset: evaluate's accuracy on the run's first test_subset test images (metrics.json).
MEASURES = {"final_test": ("test_accuracy", "final"), "peak_test": ("test_accuracy", "peak"),
            "final_validation": ("val_accuracy", "final"), "peak_validation": ("val_accuracy", "peak"),
            "final_test_subset": ("test_accuracy_subset", "final")}


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
        return {"seed": seed, "metrics": {"status": "failed", "error": error}, "history": None, "timings": None,
                "predictions": None}
    history = parent_seed["history"]
    metrics = {"seed": seed, "test_accuracy": history["test_accuracy"][n - 1], "test_loss": history["test_loss"][n - 1],
               "n_test": n_test, "scored_from": dict(scored)}
    return {"seed": seed, "metrics": metrics, "history": first_rounds(history, n), "timings": None,
            "predictions": None}


def scored_run(name: str, hp: dict, seeds, parent: dict, n_test: int) -> dict:
    """A run dict for a row scored_from `parent` (a run dict holding its seeds): one scored_seed per seed."""
    by_seed = {s["seed"]: s for s in parent["seeds"]}
    return {"run": name, "hp": hp, "plots": {},
            "seeds": [scored_seed(by_seed.get(seed), seed, hp["scored_from"], n_test) for seed in seeds]}


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
    row = {"run": run["run"], "status": status, "error": "; ".join(errors), "n_seeds": len(seeds),
           "n_ok": len(ok), "seeds": [s["seed"] for s in seeds],
           "test_accuracies": [s["metrics"]["test_accuracy"] for s in ok],
           "reference_accuracy": ref.get("accuracy"), "reference_source": ref.get("source"),
           "reference_kind": ref.get("kind") if ref else None, "measure": ref.get("measure") if ref else None,
           "evidence": ref.get("evidence"), "band": ref.get("band"), "measured": [], "verdict": None, "gap": None, "z": None,
           "half_width": None, "scored_from": hp.get("scored_from")}
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
            row["measured_stats"] = stats.sample_summary(row["measured"])    # read by ours_text and the ledger
            row["measured_mean"] = row["measured_stats"]["mean"]
            judged_values = row["measured"]
            if MEASURES[ref["measure"]][1] == "peak":      # the stall rule is about peaks
                stalled = stats.stalls(row["measured"])
                row["n_stalled"] = stalled["n_stalled"]
                if ref.get("exclude_stalled"):   # one published run of a protocol that sometimes stalls
                    judged_values = [v for i, v in enumerate(row["measured"]) if i not in stalled["stalled"]]
                    row["judged_stats"] = stats.sample_summary(judged_values)
            n_measured = _n_measured(hp, ok[0], ref["measure"])
            if ref.get("best_of", 1) > 1:
                judged = _best_of_verdict(ref, judged_values, n_measured)
                row["error"] = "; ".join(filter(None, [row["error"], judged.pop("error", "")]))
                row.update(judged)
            else:
                v = stats.verdict(ref["accuracy"], judged_values, n_measured)
                row.update(gap=v["gap"], z=v["z"], half_width=v["half_width"], verdict=v["verdict"])
            # a different protocol can be compared but not reproduced: no verdict word for it
            if ref["kind"] != "reproduction":
                row["verdict"] = "comparison"
    return row


def _best_of_verdict(ref, values, n_measured) -> dict:
    """A published best of k runs (reference best_of: k) against the best of k of our seeds
    (stats.best_of_k: every k-subset), judged by the same rule on that interval."""
    k = ref["best_of"]
    if len(values) < k:   # the config asks for 2k seeds; failed seeds can leave fewer
        return {"verdict": None, "error": f"best of {k} needs at least {k} finished seeds, {len(values)} finished"}
    b = stats.best_of_k(values, k, published=ref["accuracy"])
    return {"best_of_k": b, "gap": ref["accuracy"] - b["mean"], "z": None, "half_width": (b["high"] - b["low"]) / 2,
            "verdict": stats.judge(ref["accuracy"], b["low"], b["high"], len(values), n_measured)}


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
            if sa.get("predictions") is None or sb.get("predictions") is None:   # a scored_from row has none
                continue
            tests.append(stats.mcnemar(sa["predictions"] == labels, sb["predictions"] == labels))
        if not tests:
            continue
        first = tests[0]
        out.append({"a": a, "b": b, "vs_best": (a, b) not in pairs, "only_a": first["only_a"],
                    "only_b": first["only_b"], "p_value": first["p_value"], "n_pairs": len(tests),
                    "n_significant": sum(t["p_value"] < 0.05 for t in tests)})
    return out


def seed_rows(runs) -> list[dict]:
    """One line per run and seed: what seeds.csv holds."""
    out = []
    for run in runs:
        for s in run["seeds"]:
            status, error = seed_status(s)
            m, h = s.get("metrics") or {}, s.get("history") or {}
            peak = max(h["test_accuracy"]) if h.get("test_accuracy") else None
            out.append({"run": run["run"], "seed": s["seed"], "status": status,
                        "test_accuracy": m.get("test_accuracy") if status == "ok" else None,
                        "test_loss": m.get("test_loss") if status == "ok" else None,
                        "peak_test_accuracy": peak,
                        "final_val_accuracy": h["val_accuracy"][-1] if h.get("val_accuracy") else None,
                        "epochs_run": len(h["epoch"]) if h.get("epoch") is not None else None, "error": error})
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
            out.append({"run": run["run"], "seed": s["seed"], "train_seconds": t.get("total_seconds"),
                        "epoch_seconds": " ".join(map(str, t.get("epoch_seconds") or [])),
                        "resumed_after": " ".join(map(str, t.get("resumed_after") or []))})
    return out


def pct(x, signed=False) -> str:
    """0.9417 -> '94.17 %'; a signed difference of accuracies is in percentage points."""
    return "" if x is None else f"{100 * x:+.2f} pts" if signed else f"{100 * x:.2f} %"


def ours_text(row) -> str:
    """'97.70 ± 0.12 % (3 seeds)' for the figure a reference is compared with; with a stalled seed
    '(8 seeds, 1 stalled)'; for a best of k also the best of k of our seeds; for a figure on the
    first N test images also the whole test set's; for a row scored_from another, where it comes from."""
    s = row.get("measured_stats")
    if not s:
        return ""
    spread = f" ± {100 * s['sd']:.2f}" if s["sd"] is not None else ""
    stalled = f", {row['n_stalled']} stalled" if row.get("n_stalled") else ""
    text = f"{100 * s['mean']:.2f}{spread} % ({s['n']} seed{'s' if s['n'] > 1 else ''}{stalled})"
    if b := row.get("best_of_k"):
        text += (f"; best of {b['k']}: {100 * b['mean']:.2f} % [{100 * b['low']:.2f}, {100 * b['high']:.2f}], "
                 f"P(≤ published) {b['p_at_most']:.2f}")
    if (k := row.get("judged_stats")) and row.get("n_stalled"):   # reference exclude_stalled
        spread = f" ± {100 * k['sd']:.2f}" if k["sd"] is not None else ""
        text += f"; the {k['n']} that did not stall: {100 * k['mean']:.2f}{spread} %"
    if row["measure"] == "final_test_subset" and row.get("test_accuracy_mean") is not None:
        text += f"; all {row.get('n_test') or 10000:,} test images: {100 * row['test_accuracy_mean']:.2f} %"
    if row.get("scored_from"):
        text += f"; {scored_from_text(row['scored_from'])}"
    return text


VERDICT_WORDS = {"reproduced": "reproduced", "within_spread": "reproduced within the protocol's own spread",
                 "inconclusive": "inconclusive"}


def verdict_text(row) -> str:
    """'reproduced (±0.45 pts)', 'inconclusive (±1.80 pts, 3 seeds)', 'below: published is 1.20 pts
    below our mean (3.1 SE)', or 'comparison only ...'; each inside-the-interval verdict with the
    published figure's distance from our mean; then the band a reference's unpublished parameters
    span (reference `band`), where it has one."""
    text = _verdict_words(row)
    if (band := row.get("band")) and text:
        text += (f"; the unpublished parameters' range ({band['over']}) gives "
                 f"{pct(band['low'])} to {pct(band['high'])}")
    return text


def _verdict_words(row) -> str:
    v = row["verdict"]
    if v is None:
        return ""
    gap = f"{100 * abs(row['gap']):.2f} pts"
    ours = f"our best of {row['best_of_k']['k']}" if row.get("best_of_k") else "our mean"
    if v in VERDICT_WORDS:
        h = f"±{100 * row['half_width']:.2f} pts" + ("" if v == "reproduced" else f", {len(row['measured'])} seeds")
        return f"{VERDICT_WORDS[v]} ({h}): published {pct(row['gap'], signed=True)} from {ours}"
    if v == "comparison":
        return f"comparison only (different protocol): published {pct(row['gap'], signed=True)} from ours"
    side = "above" if v == "above" else "below"
    if row.get("best_of_k"):
        b = row["best_of_k"]
        return (f"{side}: published is {side} the interval of our best of {b['k']} "
                f"[{100 * b['low']:.2f}, {100 * b['high']:.2f}] % (P(best ≤ published) {b['p_at_most']:.2f})")
    return f"{side}: published is {gap} {side} our mean ({abs(row['z']):.1f} SE)"


def headline(rows) -> str:
    """'2 of 5 published figures reproduced (1 within the protocol's own spread, 1 inconclusive,
    1 below)': over the rows of kind reproduction only (a comparison is never a reproduction)."""
    repro = [r for r in rows if r["reference_kind"] == "reproduction"]
    counts = {}
    for r in repro:
        word = r["verdict"] or "not measured"
        counts[word] = counts.get(word, 0) + 1
    words = {"within_spread": "within the protocol's own spread", "inconclusive": "inconclusive",
             "above": "published above ours", "below": "published below ours", "not measured": "not measured"}
    rest = [f"{counts[w]} {text}" for w, text in words.items() if counts.get(w)]
    return (f"{counts.get('reproduced', 0)} of {len(repro)} published figures reproduced"
            + (f" ({', '.join(rest)})" if rest else ""))


def ledger_rows(rows, order) -> list[dict]:
    """The rows with a published figure, in `order` (the config's order of runs)."""
    order = list(order)
    return sorted((r for r in rows if r["reference_accuracy"] is not None), key=lambda r: order.index(r["run"]))


def protocol_text(hp) -> str:
    """The protocol of a run with a reference, in one line: the reference's own, or ours described."""
    return hp["reference"].get("protocol") or "; ".join(network_and_training(hp))


def published_text(row, ref) -> str:
    """'95.42 % (peak test, best of 3)': the figure and what it measures."""
    best = f", best of {ref['best_of']}" if ref.get("best_of", 1) > 1 else ""
    return f"{pct(row['reference_accuracy'])} ({row['measure'].replace('_', ' ')}{best})"


def ledger_markdown(rows, hps: dict) -> str:
    """The rows of ledger_rows() as a Markdown table (the README copies it from a measured run),
    after one line: headline()."""
    lines = [headline(rows), "", "| run | source | evidence | protocol | published | ours | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["run"], r["reference_source"] or "", r["evidence"] or "", protocol_text(hps[r["run"]]),
                 published_text(r, hps[r["run"]]["reference"]), ours_text(r) or r["status"],
                 verdict_text(r) or r["error"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell_list(v) -> str:
    return "/".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else f"{v:g}"


INIT_NAMES = {"normal": "N(0,1)", "scaled_normal": "N(0,1/n_in)", "xavier": "Glorot", "he": "He",
              "uniform_pm1": "U(-1,1)"}
INPUT_NAMES = {"raw": "raw 0-255 inputs", "div256": "inputs k/256", "max_standardise": "inputs by image max, "
               "then standardised per set"}


def _activation_name(entry) -> str:
    """'relu', '0.2z' for {"scaled": 0.2}, 'relu (identity grad)'."""
    if isinstance(entry, dict):
        (name, setting), = entry.items()
        return f"{setting:g}z" if name == "scaled" else f"{name} {setting:g}"
    return "relu (identity grad)" if entry == "relu_identity_grad" else entry


def _init_name(hp) -> str:
    if hp["init"] == "plain":
        return f"{hp.get('init_scale') or 0.01:g}·N(0,1)"
    return INIT_NAMES.get(hp["init"], hp["init"])


def network_and_training(hp) -> tuple[str, str]:
    """(network, training) in words, e.g. ('784-128-10 sigmoid/sigmoid, quadratic, N(0,1) init'
    (with one activation per hidden layer: '784-30-30-10-10 0.2z/relu/0.05z/sigmoid, ...'),
    'SGD lr 3 constant, batch 10, 30 epochs, 50,000 train / 10,000 validation')."""
    sizes = "-".join(map(str, [784, *hp["hidden"], 10]))
    hidden = hp["activation"] if isinstance(hp["activation"], list) else [hp["activation"]]
    acts = "/".join(_activation_name(a) for a in [*hidden, hp["output"]])
    net = f"{sizes} {acts}, {hp['loss'].replace('_', '-')}, {_init_name(hp)} init"
    if hp.get("inputs", "unit") != "unit":
        net += f", {INPUT_NAMES.get(hp['inputs'], hp['inputs'])}"
    lr = f"lr {hp['lr']:g}"
    if hp["schedule"] in ("linear", "cosine"):
        lr += f" {hp['schedule']} to {hp['lr_min']:g}"
    elif hp["schedule"] == "step":
        lr += f" x{hp['step_gamma']:g} every {hp['step_size']}"
    name = hp.get("optimizer", "sgd")
    opt = OPTIMIZERS[name].__name__ if name in OPTIMIZERS else name
    opt += (f" momentum {hp['momentum']:g}" if hp["momentum"] else "") + (" Nesterov" if hp.get("nesterov") else "")
    batch = "full batch" if hp["batch_size"] == "full" else f"batch {hp['batch_size']}"
    unit = "rounds" if hp["batch_size"] == "full" else "epochs"
    parts = [f"{opt} {lr}", batch, f"{hp['epochs']} {unit}"]
    if hp.get("weight_decay"):
        parts.append(f"L2 {hp['weight_decay']:g}")
    if hp.get("dropout"):
        parts.append(f"dropout {_cell_list(hp['dropout'])}")
    if hp.get("shift"):
        parts.append(f"±{hp['shift']} px shifts")
    affine = [f"{k} {hp[k]:g}" for k in ("rotate", "scale", "shear", "translate") if hp.get(k)]
    if affine:
        parts.append("affine (" + ", ".join(affine) + ")")
    if hp.get("elastic_alpha"):
        parts.append(f"elastic (alpha {hp['elastic_alpha']:g}, sigma {hp['elastic_sigma']:g})")
    parts.append(f"validation {hp['validation']:,}" if hp["validation"] else "no validation")
    if hp.get("test_subset"):
        parts.append(f"also scored on the first {hp['test_subset']:,} test images")
    return net, ", ".join(parts)
