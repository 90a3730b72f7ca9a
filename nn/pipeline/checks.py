"""Cross-key checks of the expanded runs that a schema cannot express: each run's network and
`reference`, the configured comparisons, and the run that classifies predict_dir.
"""

from __future__ import annotations

from nn.init import INITS, takes_scale
from nn.losses import get_loss
from nn.pipeline.per_layer import per_layer_problem
from nn.pipeline.scored import scored_from
from nn.pipeline.yamlfile import ConfigError
from nn.report.reproduction import MEASURES


def check_networks(runs: dict) -> None:
    """Cross-key checks of each run's network: one activation per hidden layer
    (nn.pipeline.per_layer), an init_scale only for an init that takes one, a loss its output allows."""
    for name, hp in runs.items():
        if problem := per_layer_problem(hp, "activation"):
            raise ConfigError(f"runs.{name}.activation: {problem}")
        if hp.get("init_scale") is not None and not takes_scale(hp["init"]):
            raise ConfigError(
                f"runs.{name}.init_scale: init {hp['init']} takes no scale; only "
                f"{', '.join(n for n in INITS if takes_scale(n))} do (or leave init_scale null)"
            )
        try:
            get_loss(hp["loss"], hp["output"])
        except ValueError as e:
            raise ConfigError(f"runs.{name}.{e}") from None


def _curve_needs(key: str, hp: dict) -> str | None:
    # which setting makes our history hold `key` per epoch
    if key.startswith("test_") and not hp["monitor_test"]:
        return "monitor_test: true"
    if key.startswith("val_") and not hp["validation"]:
        return "validation > 0"
    return None


def check_references(runs: dict) -> None:
    """Cross-key checks of each run's `reference`: a measure and curves its history holds, enough
    seeds for a best of k, costs within its epochs and only on a run that trains."""
    for name, hp in runs.items():
        ref = hp.get("reference")
        if not ref:
            continue
        where = f"runs.{name}.reference"
        key, at = MEASURES[ref.get("measure", "final_test")]
        if key == "test_accuracy_subset":
            need = None if hp.get("test_subset") else "test_subset > 0"
        else:
            need = _curve_needs(key, hp) if (at == "peak" or key != "test_accuracy") else None
        if need:
            raise ConfigError(f"{where}.measure: {ref['measure']} needs {need} in this run")
        k = ref.get("best_of", 1)
        if k > 1 and hp["replicates"] < 2 * k:  # with n = k seeds every "best of k" is the same one value
            raise ConfigError(
                f"{where}.best_of: a best of {k} is judged over our seeds' k-subsets and needs at "
                f"least {2 * k} seeds (replicates); this run has {hp['replicates']}"
            )
        for i, cost in enumerate(ref.get("costs") or []):
            if scored_from(hp):
                raise ConfigError(
                    f"{where}.costs: a row scored_from another has no training of its own; "
                    f"give the costs on {scored_from(hp)['run']!r}"
                )
            if cost["after_rounds"] > hp["epochs"]:
                raise ConfigError(
                    f"{where}.costs[{i}].after_rounds: {cost['after_rounds']} is past the run's {hp['epochs']} epochs"
                )
        for curve_key, curve in (ref.get("curves") or {}).items():
            if need := _curve_needs(curve_key, hp):
                raise ConfigError(f"{where}.curves.{curve_key}: needs {need} in this run")
            if len(curve["epochs"]) != len(curve["values"]):
                raise ConfigError(
                    f"{where}.curves.{curve_key}: {len(curve['epochs'])} epochs but {len(curve['values'])} values"
                )
            if max(curve["epochs"]) > hp["epochs"]:
                raise ConfigError(
                    f"{where}.curves.{curve_key}: epoch {max(curve['epochs'])} is past the run's {hp['epochs']} epochs"
                )


def comparisons(config: dict, runs: dict) -> list[tuple[str, str]]:
    """The configured [A, B] run pairs for McNemar's test, checked against the runs."""
    out = []
    for i, pair in enumerate(config.get("comparisons") or []):
        for name in pair:
            if name not in runs:
                extra = name in (config.get("runs") or {}) and ((config["runs"][name] or {}).get("extra"))
                raise ConfigError(
                    f"comparisons[{i}]: {name!r} is not a run"
                    + (" trained here: it is marked `extra: true` and extras is false" if extra else "")
                )
            if scored_from(runs[name]):
                raise ConfigError(
                    f"comparisons[{i}]: {name!r} is scored_from {scored_from(runs[name])['run']!r} "
                    "and has no test predictions of its own; compare the run it is scored from"
                )
        if pair[0] == pair[1]:
            raise ConfigError(f"comparisons[{i}]: compares {pair[0]!r} with itself")
        out.append((pair[0], pair[1]))
    return out


def check_predict_run(config: dict, runs: dict) -> None:
    """ConfigError when the run that would classify predict_dir is scored_from another: it has no model."""
    name = config.get("predict_run")
    if config.get("predict_dir") and name in runs and scored_from(runs[name]):
        raise ConfigError(
            f"predict_run: {name!r} is scored_from {scored_from(runs[name])['run']!r} and has no "
            "model of its own; name a run that trains"
        )
