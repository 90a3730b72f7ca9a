"""Published training costs against ours, round by round (a reference's `costs`).

A source that prints its cost "after training round r" prints its own loss (its sum, its factor)
on its training images with the weights after that round's update. Ours is the run's own loss, so
the sum and the factor are the source's; at the same rounds:
- after the last round, the cost of the final weights on the images the run trained on
  (train-cost.json, rule training_cost);
- after an earlier round r, history.json's train_loss of round r + 1: the average over that round's
  batches, each measured before its update, starting from the weights after round r (exact for one
  full batch a round; for several batches a little below, as the round's own steps lower it).

Each published cost gets one verdict:
- "contradicts" when it is below the least the protocol's loss can reach on those images
  (train-cost.json's least_cost): the source's figure cannot come from the protocol as read;
- "used to choose" when it chose an unpublished parameter (its `chose`): shown, never judged;
- else the verdict rule (nn.report.verdicts.judge_within) on a 95% prediction interval from our
  seeds, widened after the last round by the sampling error of one cost measured on those images
  (their costs' spread / sqrt(n)), as an accuracy's is by its set's; "reproduced" asks for a
  half-width of at most COST_REPRODUCED of the published cost.
"""

from __future__ import annotations

import math

from nn import stats
from nn.report import verdicts

COST_REPRODUCED = 0.05  # a cost's interval at most 5 % of the published value each way: "reproduced"


def ours_after(seed: dict, after_rounds: int, epochs: int) -> float | None:
    """One seed's training cost with the weights after `after_rounds` rounds (see the module), or None."""
    if after_rounds == epochs:
        return (seed.get("train_cost") or {}).get("train_loss")
    curve = (seed.get("history") or {}).get("train_loss") or []
    return curve[after_rounds] if after_rounds < len(curve) else None


def sampling_error(seeds, after_rounds: int, epochs: int) -> float | None:
    """The standard error of a cost measured on the run's training images after its last round:
    the images' spread (train-cost.json's train_loss_sd, averaged over the seeds) / sqrt(n). None
    for an earlier round, whose per-image spread is not recorded."""
    records = [s.get("train_cost") or {} for s in seeds] if after_rounds == epochs else []
    spreads = [(r["train_loss_sd"], r["n_images"]) for r in records if "train_loss_sd" in r and r.get("n_images")]
    if not spreads:
        return None
    return sum(sd for sd, _ in spreads) / len(spreads) / math.sqrt(spreads[0][1])


def least_cost(seeds) -> float | None:
    """The least the run's loss can reach on its training images (every seed's train-cost.json
    gives the same; the largest is taken should they differ), or None without one."""
    values = [(s.get("train_cost") or {}).get("least_cost") for s in seeds]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def cost_row(cost: dict, seeds, epochs: int) -> dict:
    """One published cost (reference `costs` entry) against the finished `seeds`' costs at its round:
    {after_rounds, published, values, mean, sd, half_width, gap, verdict, reason, quote}."""
    published, rounds = cost["value"], cost["after_rounds"]
    values = [v for v in (ours_after(s, rounds, epochs) for s in seeds) if v is not None]
    row = {
        "after_rounds": rounds,
        "published": published,
        "values": values,
        "mean": None,
        "sd": None,
        "half_width": None,
        "gap": None,
        "verdict": None,
        "reason": "",
        "quote": cost.get("quote", ""),
    }
    if values:
        summary = stats.sample_summary(values)
        row["mean"], row["sd"] = summary["mean"], summary["sd"]
        row["gap"] = published - row["mean"]
        # as for an accuracy: our seeds' prediction interval widened by the sampling error of one cost
        # on those images, where their spread is recorded (after the last round)
        seeds_part, se = stats.prediction_half_width(values), sampling_error(seeds, rounds, epochs)
        if se is not None:
            row["half_width"] = math.sqrt((seeds_part or 0.0) ** 2 + (stats.Z95 * se) ** 2)
        else:
            row["half_width"] = seeds_part
    least = least_cost(seeds)
    if least is not None and published < least:
        row.update(
            verdict="contradicts",
            reason=f"a cost of {published:g} is below the least this protocol's "
            f"loss can reach on its training images, {least:.4g}",
        )
    elif cost.get("chose"):
        row.update(verdict="used to choose", reason=f"used to choose {', '.join(cost['chose'])}")
    elif row["half_width"] is not None:
        low, high = row["mean"] - row["half_width"], row["mean"] + row["half_width"]
        row["verdict"] = verdicts.judge_within(published, low, high, len(values), COST_REPRODUCED * published)
    elif values:
        row.update(verdict="inconclusive", reason="one seed: its spread is unknown")
    return row


def cost_rows(hp: dict, seeds) -> list[dict]:
    """cost_row of every published cost of a run (hp["reference"]["costs"]), in the reference's order."""
    return [cost_row(c, seeds, hp["epochs"]) for c in (hp.get("reference") or {}).get("costs") or []]


def contradiction(rows) -> str:
    """The reason the source's figures contradict its protocol, from the first cost that does, or ''."""
    return next((r["reason"] for r in rows if r["verdict"] == "contradicts"), "")
