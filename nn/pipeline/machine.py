"""What this machine can do: BLAS threads capped at its CPUs, and every run's training within its memory."""

from __future__ import annotations

from nn.fileio import physical_memory
from nn.pipeline.resources import human, training_bytes
from nn.pipeline.yamlfile import ConfigError


def cap_threads(config: dict, cpus: int) -> list[str]:
    """Lower every `threads` above `cpus` to it, in place; one warning per key lowered.

    More BLAS threads than CPUs only makes them wait on each other (64 threads on 2 CPUs:
    18 s per epoch instead of 0.8 s)."""
    warnings, places = [], [("defaults", config.get("defaults") or {})]
    places += [(f"runs.{n}", hp or {}) for n, hp in config["runs"].items()]
    places += [(f"sweeps.{n}.base", s.get("base") or {}) for n, s in (config.get("sweeps") or {}).items()]
    for where, hp in places:
        if hp.get("threads", 0) > cpus:
            warnings.append(f"{where}.threads: {hp['threads']} is more than the {cpus} CPUs here; using {cpus}")
            hp["threads"] = cpus
    for name, spec in (config.get("sweeps") or {}).items():
        values = spec["grid"].get("threads")
        if values and max(values) > cpus:
            lowered = [min(v, cpus) for v in values]
            if len(set(lowered)) < len(lowered):
                raise ConfigError(
                    f"sweeps.{name}.grid.threads: {values} would repeat {cpus} on the {cpus} CPUs here; "
                    "keep one value at or above it"
                )
            warnings.append(
                f"sweeps.{name}.grid.threads: {values} has values above the {cpus} CPUs here; using {lowered}"
            )
            spec["grid"]["threads"] = lowered
    return warnings


def check_memory(runs: dict, available: int | None = None) -> None:
    """ConfigError, before any job, for the first run whose training cannot fit in this machine's
    memory (e.g. hidden: [100000000]), with the estimate (nn.pipeline.resources.training_bytes)."""
    available = physical_memory() if available is None else available
    for name, hp in runs.items():
        need = training_bytes(hp)
        if need > available:
            raise ConfigError(
                f"runs.{name}: training needs about {human(need)} of memory (hidden {hp['hidden']}, "
                f"batch_size {hp['batch_size']}, {hp['dtype']}); this machine has {human(available)}"
            )
