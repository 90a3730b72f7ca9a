"""nn.report.recipes: the log of recipes tried for `best`, read strictly, and its frontier."""

import json

import pytest

from nn.report import recipes

GOOD = {
    "name": "elastic-40",
    "recipe": {"epochs": 40},
    "epochs": 40,
    "best_val_accuracy": 0.9926,
    "last_val_accuracy": 0.9923,
    "train_seconds": 929.0,
    "threads": 1,
    "loaded": True,
}


def record(**changes):
    return {**GOOD, **changes}


def test_the_committed_log_reads_and_names_a_frontier():
    tried = recipes.load(recipes_path())
    assert len(tried) >= 10
    front = recipes.frontier(tried)
    assert front and all(r in tried for r in front)


def recipes_path():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "benchmarks" / "recipes.jsonl"


def test_frontier_keeps_only_what_no_faster_recipe_beats():
    tried = [
        record(name=n, train_seconds=t, best_val_accuracy=a)
        for n, t, a in [
            ("slow-bad", 500, 0.98),
            ("fast", 100, 0.985),
            ("mid", 200, 0.99),
            ("mid-worse", 250, 0.989),
            ("slow-good", 900, 0.993),
            ("tie-slower", 950, 0.993),
        ]
    ]
    assert [r["name"] for r in recipes.frontier(tried)] == ["fast", "mid", "slow-good"]
    assert recipes.frontier([]) == []


def test_chosen_is_every_seed_of_the_recipe_last_named_best():
    tried = [
        record(name="best", recipe={"epochs": 40}),
        record(name="s1", recipe={"epochs": 50}),
        record(name="best", recipe={"epochs": 50, "seed": 2}),
        record(name="s3", recipe={"epochs": 50, "seed": 3}),
        record(name="other", recipe={"epochs": 50, "dropout": 0.1}),
    ]
    assert [r["name"] for r in recipes.chosen(tried)] == ["s1", "best", "s3"]
    assert recipes.chosen([record()]) == []


@pytest.mark.parametrize(
    "line, message",
    [
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "not JSON"),
        ("[" * 100_000, "JSON nested 100000 levels deep, over the limit of 100; refusing to parse it"),
        (json.dumps(record(epochs="40")), "'epochs' must be int"),
        (json.dumps(record(epochs=True)), "'epochs' must be int"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "threads"}), "'threads' must be int, got None"),
        (json.dumps(record(best_val_accuracy=99.26)), "fraction in \\[0, 1\\]"),
        (json.dumps(record(train_seconds=0)), "must be positive"),
        ('{"name": "x", "recipe": {}, "epochs": 1, "best_val_accuracy": NaN}', "'best_val_accuracy' must be finite"),
    ],
)
def test_a_bad_line_is_refused_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "recipes.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"recipes.jsonl:3: .*{message}"):
        recipes.load(path)


def test_a_huge_log_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "recipes.jsonl"
    with open(path, "wb") as f:
        f.truncate(recipes.MAX_BYTES + 1)
    with pytest.raises(ValueError, match="more than a recipe log's limit"):
        recipes.load(path)


def test_append_writes_one_checked_line_and_refuses_a_bad_one(tmp_path):
    path = tmp_path / "recipes.jsonl"
    recipes.append(path, record(name="one"))
    recipes.append(path, record(name="two", train_seconds=12))
    assert [r["name"] for r in recipes.load(path)] == ["one", "two"]
    assert isinstance(recipes.load(path)[1]["train_seconds"], float)
    with pytest.raises(ValueError, match="'loaded' must be bool"):
        recipes.append(path, record(loaded="yes"))
    assert len(path.read_text().splitlines()) == 2
