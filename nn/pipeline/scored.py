"""A row scored from another run's history, not trained (config `scored_from`).

The row's figure is its parent's test accuracy after round `round`, seed by seed: what a run of
`round` epochs gives when the parent's first rounds are exactly such a run. The row takes the
parent's hyperparameters with epochs = round, and is refused when its rounds would not be that.
"""

from __future__ import annotations

from nn.optim import learning_rate
from nn.pipeline.yamlfile import ConfigError

SCORED_OWN_KEYS = ("extra", "scored_from", "reference", "replicates", "epochs")


def scored_from(hp: dict) -> dict | None:
    """{"run", "round"} of a run whose figure is read from another run's history after that round
    (config `scored_from`), or None for a run that trains."""
    return hp.get("scored_from")


def trained(runs: dict) -> dict:
    """The runs that train: every run but those scored_from another."""
    return {name: hp for name, hp in runs.items() if not scored_from(hp)}


def _parent(config: dict, name: str, source: str, runs: dict) -> dict:
    """The hyperparameters of the run `name` is scored from, or ConfigError saying why there is none."""
    where = f"runs.{name}.scored_from.run"
    over = (config.get("runs") or {}).get(source)
    if isinstance(over, dict) and "scored_from" in over:
        raise ConfigError(
            f"{where}: {source!r} is itself scored_from {over['scored_from'].get('run')!r} and trains "
            "nothing; name the run that trains"
        )
    if source not in runs:
        extra = isinstance(over, dict) and over.get("extra")
        raise ConfigError(
            f"{where}: {source!r} is not a run"
            + (" trained here: it is marked `extra: true` and extras is false" if extra else "")
        )
    return runs[source]


def scored_hparams(config: dict, name: str, over: dict, runs: dict) -> dict:
    """A scored_from row's hyperparameters: its parent's, with epochs = the round it is scored at, its own
    reference and replicates (at most the parent's), and `scored_from`. A training key the row states
    must equal the parent's: the row trains nothing, its figure is the parent's first rounds.
    Unsorted: nn.pipeline.runs.expand_runs makes every run canonical."""
    source = over["scored_from"]
    parent = _parent(config, name, source["run"], runs)
    for key, value in over.items():
        if key not in SCORED_OWN_KEYS and value != parent[key]:
            raise ConfigError(
                f"runs.{name}.{key}: {value!r}, but {source['run']}'s is {parent[key]!r}; a row "
                f"scored_from {source['run']} is its first rounds and trains nothing (leave {key} out)"
            )
    if over.get("epochs", source["round"]) != source["round"]:
        raise ConfigError(
            f"runs.{name}.epochs: {over['epochs']}, but it is scored after round {source['round']} (leave epochs out)"
        )
    hp = {
        **parent,
        "epochs": source["round"],
        "reference": over.get("reference"),
        "replicates": over.get("replicates", parent["replicates"]),
        "scored_from": dict(source),
    }
    check_scored_from(name, hp, parent)
    return hp


def _first_rates(hp: dict, rounds: int, epochs: int) -> list[float]:
    # the learning rate of each of the first `rounds` epochs of a run of `epochs`
    return [
        learning_rate(hp["schedule"], hp["lr"], e, epochs, hp["lr_min"], hp["step_size"], hp["step_gamma"])
        for e in range(rounds)
    ]


def check_scored_from(name: str, hp: dict, parent: dict) -> None:
    """ConfigError unless the parent's first `round` rounds are exactly a `round`-round run of the row,
    on the row's seeds, and its history holds the test accuracy after each: monitor_test, enough
    epochs, no early stopping, a schedule whose first rates do not depend on the epochs, the seeds
    a subset, and a measure the history holds."""
    source, n = hp["scored_from"]["run"], hp["scored_from"]["round"]
    where = f"runs.{name}.scored_from"
    if not parent["monitor_test"]:
        raise ConfigError(
            f"{where}.run: {source} has no monitor_test, so its history holds no test accuracy "
            "per round; set monitor_test: true there"
        )
    if n > parent["epochs"]:
        raise ConfigError(f"{where}.round: {n} is past {source}'s {parent['epochs']} epochs")
    if parent["early_stopping"]:
        raise ConfigError(
            f"{where}.run: {source} stops early (early_stopping {parent['early_stopping']}), and a "
            f"run of {n} epochs keeps its best epoch's weights; its rounds are not such a run's"
        )
    ours, theirs = _first_rates(hp, n, n), _first_rates(hp, n, parent["epochs"])
    if ours != theirs:
        e = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        raise ConfigError(
            f"{where}.run: {source}'s schedule {hp['schedule']} depends on its epochs (epoch {e + 1}: "
            f"lr {theirs[e]:g} of {parent['epochs']} epochs, {ours[e]:g} of {n}); only a schedule "
            "that does not (constant, step) can be scored from"
        )
    if hp["replicates"] > parent["replicates"]:
        raise ConfigError(
            f"runs.{name}.replicates: {hp['replicates']}, but {source} trains "
            f"{parent['replicates']} seeds; a row scored from it has at most those"
        )
    measure = (hp.get("reference") or {}).get("measure", "final_test")
    if measure == "final_test_subset":
        raise ConfigError(
            f"runs.{name}.reference.measure: final_test_subset is evaluate's figure of a trained "
            "model; a row scored_from another has only its history"
        )
