"""From per-seed results to per-run figures, verdicts against published ones, and paired tests.

A run here is a dict {"run", "hp", "seeds": [seed record, ...], "plots"}; a seed record is
{"seed", "metrics", "history", "timings", "predictions"} (any of them None when missing;
predictions: the uint8 predicted class of each test image). workflow/scripts/report.py
builds them; nn.report.html draws them. A row scored_from another run (hp["scored_from"] =
{"run", "round"}) trains nothing: scored_run builds its seed records from that run's histories.
"""
from __future__ import annotations

import textwrap

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
           "half_width": None, "interval": None, "excluded": [], "scored_from": hp.get("scored_from")}
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
                    row["excluded"] = stalled["stalled"]     # indices into measured: left out of the verdict
                    judged_values = [v for i, v in enumerate(row["measured"]) if i not in stalled["stalled"]]
                    row["judged_stats"] = stats.sample_summary(judged_values)
            n_measured = _n_measured(hp, ok[0], ref["measure"])
            if ref.get("best_of", 1) > 1:
                judged = _best_of_verdict(ref, judged_values, n_measured)
                row["error"] = "; ".join(filter(None, [row["error"], judged.pop("error", "")]))
                row.update(judged)
            else:
                v = stats.verdict(ref["accuracy"], judged_values, n_measured)
                row.update(gap=v["gap"], z=v["z"], half_width=v["half_width"], verdict=v["verdict"],
                           interval=(v["low"], v["high"]))
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
            "interval": (b["low"], b["high"]),
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
    """0.9417 -> '94.17 %'; a signed difference of accuracies is in percentage points ('+0.00 pts',
    never '-0.00', for a difference that rounds to none)."""
    return "" if x is None else f"{round(100 * x, 2) + 0.0:+.2f} pts" if signed else f"{100 * x:.2f} %"


def _mean_sd(s) -> str:
    # '97.70 ± 0.12' (percent) from a stats.sample_summary; one seed has no sd
    return f"{100 * s['mean']:.2f}" + (f" ± {100 * s['sd']:.2f}" if s["sd"] is not None else "")


def ours_extras(row) -> list[str]:
    """What there is to say of our figure beyond its mean and spread: the best of k of our seeds
    (a published best of k), the mean of the seeds that did not stall (reference exclude_stalled),
    the whole test set's figure beside one on its first N images, where a scored_from row's
    figures come from."""
    out = []
    if b := row.get("best_of_k"):
        out.append(f"best of {b['k']}: {100 * b['mean']:.2f} % [{100 * b['low']:.2f}, {100 * b['high']:.2f}], "
                   f"P(≤ published) {b['p_at_most']:.2f}")
    if (k := row.get("judged_stats")) and row.get("n_stalled"):
        out.append(f"the {k['n']} that did not stall: {_mean_sd(k)} %")
    if row["measure"] == "final_test_subset" and row.get("test_accuracy_mean") is not None:
        out.append(f"all {row.get('n_test') or 10000:,} test images: {100 * row['test_accuracy_mean']:.2f} %")
    if row.get("scored_from"):
        out.append(scored_from_text(row["scored_from"]))
    return out


def ours_text(row, extras=True) -> str:
    """'97.70 ± 0.12 % (3 seeds)' for the figure a reference is compared with; with a stalled seed
    '(8 seeds, 1 stalled)'; then, unless extras is False (the ledger's one-line cell), ours_extras()."""
    s = row.get("measured_stats")
    if not s:
        return ""
    stalled = f", {row['n_stalled']} stalled" if row.get("n_stalled") else ""
    text = f"{_mean_sd(s)} % ({s['n']} seed{'s' if s['n'] > 1 else ''}{stalled})"
    return "; ".join([text, *(ours_extras(row) if extras else [])])


# The ledger's word for each verdict of nn.stats.judge (and "comparison", "not measured").
SHORT_WORDS = {"within_spread": "within spread", None: "not measured"}


def verdict_word(row) -> str:
    """'reproduced', 'within spread', 'inconclusive', 'above', 'below', 'comparison' or 'not measured'."""
    return SHORT_WORDS.get(row["verdict"], row["verdict"])


def verdict_text(row) -> str:
    """The ledger's verdict in one line: the word, ±h (the half-width of the interval it was judged
    on, in points) and the published figure's signed distance from our mean, or from our best of k:
    'reproduced ±0.45 · published +0.20 pts', 'above ±0.30 · published +1.20 pts (4.1 SE)',
    'reproduced ±0.25 · published -0.10 pts vs best of 3'. Empty when nothing was measured."""
    if row["verdict"] is None:
        return ""
    if row["gap"] is None:        # a comparison whose best of k had too few seeds: no distance to give
        return verdict_word(row)
    text = f"{verdict_word(row)} ±{100 * row['half_width']:.2f} · published {pct(row['gap'], signed=True)}"
    if b := row.get("best_of_k"):
        text += f" vs best of {b['k']}"
    if row["verdict"] in ("above", "below") and row.get("z") is not None:
        text += f" ({abs(row['z']):.1f} SE)"
    return text


def band_text(row) -> str:
    """'the unpublished parameters' range (lr 0.5-2 x ...) gives 92.58 % to 94.71 %' (reference `band`)."""
    band = row.get("band")
    if not band:
        return ""
    return f"the unpublished parameters' range ({band['over']}) gives {pct(band['low'])} to {pct(band['high'])}"


# headline()'s words for each verdict
HEADLINE_WORDS = {"within_spread": "within the protocol's own spread", "inconclusive": "inconclusive",
                  "above": "published above ours", "below": "published below ours", "not measured": "not measured"}


def headline(rows) -> str:
    """'2 of 5 published figures reproduced (1 within the protocol's own spread, 1 inconclusive,
    1 below)': over the rows of kind reproduction only (a comparison is never a reproduction)."""
    repro = [r for r in rows if r["reference_kind"] == "reproduction"]
    counts = {}
    for r in repro:
        word = r["verdict"] or "not measured"
        counts[word] = counts.get(word, 0) + 1
    rest = [f"{counts[w]} {text}" for w, text in HEADLINE_WORDS.items() if counts.get(w)]
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


def short_source(source, width=36) -> str:
    """A source's name cut at a word to fit a one-line cell: 'Nielsen, Neural Networks and …'."""
    short = textwrap.shorten(source, width, placeholder=" …")
    return short.removesuffix(" …").rstrip(",;:") + " …" if short.endswith(" …") else short


def ledger_markdown(rows, hps: dict) -> str:
    """The rows of ledger_rows() as a Markdown table of one-line cells (the README copies it from a
    measured run), after one line: headline(); then one line per row with what the cells leave out:
    the evidence, the source in full, the protocol, ours_extras(), the swept band, the errors.
    The notes and the evidence per field are in the HTML report's ledger."""
    lines = [headline(rows), "", "| run | source | published | ours | verdict |", "|---|---|---|---|---|"]
    more = []
    for r in rows:
        ref = hps[r["run"]]["reference"]
        cells = [r["run"], short_source(ref["source"]), published_text(r, ref),
                 ours_text(r, extras=False) or r["status"], verdict_text(r) or verdict_word(r)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        said = [protocol_text(hps[r["run"]]), *ours_extras(r), band_text(r), r["error"]]
        evidence = f" (evidence: {ref['evidence']})" if ref.get("evidence") else ""
        more.append(f"- {r['run']}: {ref['source']}{evidence}. " + "; ".join(filter(None, said)))
    return "\n".join(lines + ["", *more]) + "\n"


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
