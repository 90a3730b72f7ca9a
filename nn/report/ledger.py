"""The ledger in words: each published figure, ours beside it and the verdict, one line each.

run_row() (nn.report.reproduction) computes a row; this module says it: the verdict's word, ±h and
the signed distance (verdict_text), ours in short and in full, the headline that counts the
reproductions, a published training cost beside ours (cost_text), the Markdown table results/ledger.md
holds (and the README copies), and a run's protocol described from its hyperparameters.
nn.report.ledger_html draws the same rows as the report's first table.
"""

from __future__ import annotations

import textwrap

from nn.optim import OPTIMIZERS
from nn.report.reproduction import scored_from_text


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
        out.append(
            f"best of {b['k']}: {100 * b['mean']:.2f} % [{100 * b['low']:.2f}, {100 * b['high']:.2f}], "
            f"P(≤ published) {b['p_at_most']:.2f}"
        )
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


# The ledger's word for each verdict of nn.report.verdicts.judge (and "comparison", "not measured").
SHORT_WORDS = {"within_spread": "within spread", "contradicts": "figures contradict the protocol", None: "not measured"}


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
    if row["gap"] is None:  # a comparison whose best of k had too few seeds: no distance to give
        return verdict_word(row)
    text = f"{verdict_word(row)} ±{100 * row['half_width']:.2f} · published {pct(row['gap'], signed=True)}"
    if b := row.get("best_of_k"):
        text += f" vs best of {b['k']}"
    if row["verdict"] in ("above", "below") and row.get("z") is not None:
        text += f" ({abs(row['z']):.1f} SE)"
    return text


def cost_label(cost) -> str:
    """'cost after 100 rounds': which published training cost a line is about (a cost_row)."""
    n = cost["after_rounds"]
    return f"cost after {n} round{'s' if n > 1 else ''}"


def cost_ours(cost) -> str:
    """'0.04125 ± 0.00031 (8 seeds)': our costs at that round, mean ± sd, to four significant figures."""
    values = cost["values"]
    if not values:
        return "not measured"
    spread = f" ± {cost['sd']:.2g}" if cost["sd"] is not None else ""
    return f"{cost['mean']:.4g}{spread} ({len(values)} seed{'s' if len(values) > 1 else ''})"


def cost_verdict(cost) -> str:
    """The cost's verdict in one line: 'used to choose lr, init_scale', 'figures contradict the protocol',
    or as verdict_text: 'reproduced ±0.0021 · published +0.0012'."""
    v = cost["verdict"]
    if v is None:
        return "not measured"
    if v == "used to choose":
        return cost["reason"]
    if v == "contradicts":
        return SHORT_WORDS["contradicts"]
    h = f" ±{cost['half_width']:.2g}" if cost["half_width"] is not None else ""
    return f"{SHORT_WORDS.get(v, v)}{h} · published {cost['gap']:+.2g}"


def band_text(row) -> str:
    """'the unpublished parameters' range (lr 0.5-2 x ...) gives 92.58 % to 94.71 %' (reference `band`)."""
    band = row.get("band")
    if not band:
        return ""
    return f"the unpublished parameters' range ({band['over']}) gives {pct(band['low'])} to {pct(band['high'])}"


# headline()'s words for each verdict
HEADLINE_WORDS = {
    "within_spread": "within the protocol's own spread",
    "inconclusive": "inconclusive",
    "above": "published above ours",
    "below": "published below ours",
    "contradicts": "where the source's figures contradict its stated protocol",
    "not measured": "not measured",
}


def headline(rows) -> str:
    """'2 of 5 published figures reproduced (1 within the protocol's own spread, 1 inconclusive,
    1 below)': over the rows of kind reproduction only (a comparison is never a reproduction)."""
    repro = [r for r in rows if r["reference_kind"] == "reproduction"]
    counts = {}
    for r in repro:
        word = r["verdict"] or "not measured"
        counts[word] = counts.get(word, 0) + 1
    rest = [f"{counts[w]} {text}" for w, text in HEADLINE_WORDS.items() if counts.get(w)]
    return f"{counts.get('reproduced', 0)} of {len(repro)} published figures reproduced" + (
        f" ({', '.join(rest)})" if rest else ""
    )


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
    the evidence, the source in full, the protocol, ours_extras(), the swept band, why the figures
    contradict the protocol, the errors. Under a row, one line per published training cost.
    The notes and the evidence per field are in the HTML report's ledger."""
    lines = [headline(rows), "", "| run | source | published | ours | verdict |", "|---|---|---|---|---|"]
    more = []
    for r in rows:
        ref = hps[r["run"]]["reference"]
        cells = [
            r["run"],
            short_source(ref["source"]),
            published_text(r, ref),
            ours_text(r, extras=False) or r["status"],
            verdict_text(r) or verdict_word(r),
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        for c in r.get("costs") or []:
            cells = [f"↳ {cost_label(c)}", "", f"{c['published']:.4g}", cost_ours(c), cost_verdict(c)]
            lines.append("| " + " | ".join(cells) + " |")
        said = [protocol_text(hps[r["run"]]), *ours_extras(r), band_text(r), r.get("contradiction", ""), r["error"]]
        evidence = f" (evidence: {ref['evidence']})" if ref.get("evidence") else ""
        more.append(f"- {r['run']}: {ref['source']}{evidence}. " + "; ".join(filter(None, said)))
    return "\n".join(lines + ["", *more]) + "\n"


def _cell_list(v) -> str:
    return "/".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else f"{v:g}"


INIT_NAMES = {
    "normal": "N(0,1)",
    "scaled_normal": "N(0,1/n_in)",
    "xavier": "Glorot",
    "he": "He",
    "uniform_pm1": "U(-1,1)",
}
INPUT_NAMES = {
    "raw": "raw 0-255 inputs",
    "div256": "inputs k/256",
    "max_standardise": "inputs by image max, then standardised per set",
}


def _activation_name(entry) -> str:
    """'relu', '0.2z' for {"scaled": 0.2}, 'relu (identity grad)'."""
    if isinstance(entry, dict):
        ((name, setting),) = entry.items()
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
