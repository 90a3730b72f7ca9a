"""The log of training recipes tried for `best` (benchmarks/recipes.jsonl): one JSON object per
line, appended by `benchmarks/recipe.py --record`, read by the report for its accuracy against
training seconds figure.

Every recipe is measured on the validation split (the first 50,000 training images train, the
last 10,000 measure), never on the test set; see docs/performance.md.
"""

from __future__ import annotations

import json
import math
import os

from nn.fileio import loads_json, open_regular

TARGET = 0.9935  # what `best` aims at: past Simard et al.'s 99.3 % (elastic distortions)
BUDGET_SECONDS = 300  # ... with each seed trained in at most 5 minutes alone on 2 cores
CHOSEN = "best"  # the name under which the recipe `best` runs was recorded
MAX_BYTES = 1 << 20  # a line is ~400 bytes: a megabyte is thousands of recipes
REQUIRED = {
    "name": str,
    "recipe": dict,
    "epochs": int,
    "best_val_accuracy": float,
    "last_val_accuracy": float,
    "train_seconds": float,
    "threads": int,
    "loaded": bool,
}


def check(record, where: str) -> dict:
    """One recipe record, its fields and types checked; ValueError naming `where` otherwise."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key, kind in REQUIRED.items():
        value = record.get(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
        if kind is float and not math.isfinite(value):
            raise ValueError(f"{where}: {key!r} must be finite, got {value!r}")
    for key in ("best_val_accuracy", "last_val_accuracy"):
        if not 0.0 <= record[key] <= 1.0:
            raise ValueError(f"{where}: {key!r} is a fraction in [0, 1], got {record[key]!r}")
    if record["train_seconds"] <= 0 or record["epochs"] < 1 or record["threads"] < 1:
        raise ValueError(f"{where}: train_seconds, epochs and threads must be positive")
    return {**record, **{k: float(record[k]) for k, kind in REQUIRED.items() if kind is float}}


def parse(text: str, source: str) -> list[dict]:
    """Every record of a recipes.jsonl text; blank lines are skipped."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            where = f"{source}:{number}"
            try:
                record = loads_json(line, where)  # nesting bounded before parsing
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not JSON ({e.msg})") from None
            records.append(check(record, where))
    return records


def load(path) -> list[dict]:
    """The records of a recipes.jsonl file, refused past MAX_BYTES before reading it."""
    with open_regular(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_BYTES:
            raise ValueError(f"{path}: {size} bytes, more than a recipe log's limit of {MAX_BYTES}")
        return parse(f.read(MAX_BYTES).decode("utf-8", errors="replace"), str(path))


def append(path, record: dict) -> None:
    """Add one checked record as a line (an append of one short line: no partial file to clean up)."""
    line = json.dumps(check(record, str(path)), sort_keys=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def frontier(records: list[dict]) -> list[dict]:
    """The recipes no other recipe beats on both counts (higher best validation accuracy in no
    more seconds), fastest first: what each extra second of training has bought so far."""
    best_so_far, out = -1.0, []
    for r in sorted(records, key=lambda r: (r["train_seconds"], -r["best_val_accuracy"])):
        if r["best_val_accuracy"] > best_so_far:
            out.append(r)
            best_so_far = r["best_val_accuracy"]
    return out


def chosen(records: list[dict]) -> list[dict]:
    """Every record of the recipe config.yaml's `best` runs, whatever its seed: the recipe of the
    last record named CHOSEN, and each record with that recipe but for `seed`. Empty if none."""
    named = next((r for r in reversed(records) if r["name"] == CHOSEN), None)
    if named is None:
        return []
    recipe = {k: v for k, v in named["recipe"].items() if k != "seed"}
    return [r for r in records if {k: v for k, v in r["recipe"].items() if k != "seed"} == recipe]
