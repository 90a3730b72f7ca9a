"""The reproductions' source files (nn.pipeline.source_files): one YAML file per source, merged
into the config's runs, each problem told in one line naming the file."""

from pathlib import Path

import pytest
import yaml

from nn.pipeline import config as nnconfig
from nn.pipeline import source_files

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_config_yaml_holds_no_reproduction_row_and_every_source_file_loads():
    own = yaml.safe_load((REPO / "config.yaml").read_text())
    kinds = {name: ((over or {}).get("reference") or {}).get("kind") for name, over in own["runs"].items()}
    assert "reproduction" not in kinds.values(), kinds
    files = sorted((REPO / "reproductions").glob("*.yaml"))
    assert len(files) >= 5
    config, runs, _ = nnconfig.load(nnconfig.read(REPO / "config.yaml"), SCHEMA)
    for path in files:
        rows = yaml.safe_load(path.read_text())["runs"]
        assert set(rows) <= set(runs) | {n for n, o in rows.items() if o.get("extra")}, path.name
        for name in rows:
            if name in runs:
                assert runs[name]["reference"]["source"], name


def minimal_config(tmp_path, files: dict[str, str], own_runs=None) -> dict:
    """A config whose `reproductions` folder holds `files` ({name: YAML text})."""
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    download = yaml.safe_load((REPO / "config.yaml").read_text())["download"]
    return {
        "reproductions": "sources",
        "download": download,
        "runs": own_runs if own_runs is not None else {"ours": {}},
    }


ROW = """runs:
  {name}:
    hidden: [30]
    reference:
      accuracy: 0.95
      source: "A blog"
      url: "https://example.org/post"
      kind: reproduction
      evidence: from code
      protocol: "784-30-10"
      fields:
        hidden: "https://example.org/code (abc1234) net.py l.3: `Network([784, 30, 10])`"
"""


def load(config, base):
    return nnconfig.load(config, SCHEMA, base)


def test_rows_come_first_in_file_name_order_then_the_configs_own(tmp_path):
    cfg = minimal_config(
        tmp_path,
        {
            "b.yaml": ROW.format(name="from-b"),
            "a.yml": ROW.format(name="from-a"),
            "notes.txt": "not a source",
            ".hidden.yaml": "runs: {x: {}}",
        },
    )
    _, runs, _ = load(cfg, tmp_path)
    assert list(runs) == ["from-a", "from-b", "ours"]
    assert runs["from-a"]["hidden"] == [30] and runs["from-a"]["reference"]["kind"] == "reproduction"


def test_without_a_folder_nothing_is_merged(tmp_path):
    cfg = minimal_config(tmp_path, {"a.yaml": ROW.format(name="from-a")})
    cfg["reproductions"] = None
    _, runs, _ = load(cfg, tmp_path)
    assert list(runs) == ["ours"]


@pytest.mark.parametrize(
    "files, own, expected",
    [
        (
            {"a.yaml": ROW.format(name="x"), "b.yaml": ROW.format(name="x")},
            None,
            "sources/b.yaml: run 'x' is also in sources/a.yaml; rename one",
        ),
        ({"a.yaml": ROW.format(name="ours")}, None, "runs.ours: is also a row of sources/a.yaml; rename one"),
        ({"a.yaml": "runs: {x: {}}\ndefaults: {lr: 1}\n"}, None, "sources/a.yaml: unknown top-level key 'defaults'"),
        ({"a.yaml": "- x\n"}, None, "sources/a.yaml: expected a mapping with the source's rows under `runs:`"),
        ({"a.yaml": "runs: {}\n"}, None, "sources/a.yaml: runs: is empty"),
        (
            {"a.yaml": ROW.format(name="x").replace("hidden: [30]", "hidden: [0]")},
            None,
            "sources/a.yaml: runs.x.hidden[0]: 0 is less than the minimum of 1",
        ),
        (
            {"a.yaml": ROW.format(name="x").replace("      accuracy: 0.95\n", "")},
            None,
            "sources/a.yaml: runs.x.reference: 'accuracy' is a required property",
        ),
        (
            {"a.yaml": ROW.format(name="x").replace("      evidence: from code\n", "")},
            None,
            "sources/a.yaml: runs.x.reference: 'evidence' is a required property",
        ),
        (
            {"a.yaml": ROW.format(name="x").replace("hidden: [30]", "hidden: [30]\n    hidden: [40]")},
            None,
            "sources/a.yaml: key 'hidden' is written twice in one mapping (lines 3 and 4)",
        ),
        ({"a.yaml": "runs:\n  x: {hidden: [30\n"}, None, "sources/a.yaml: YAML syntax error at line 3"),
        ({"a.yaml": ROW.format(name="my run")}, None, "sources/a.yaml: runs: name 'my run' is not allowed"),
    ],
)
def test_a_bad_source_file_is_one_line_naming_the_file(tmp_path, files, own, expected):
    cfg = minimal_config(tmp_path, files, own)
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg, tmp_path)
    message = str(e.value)
    assert message.startswith(expected) and "\n" not in message


def test_a_missing_folder_is_one_line(tmp_path):
    cfg = minimal_config(tmp_path, {})
    cfg["reproductions"] = "nowhere"
    with pytest.raises(nnconfig.ConfigError, match=r"^reproductions: nowhere is not a folder"):
        load(cfg, tmp_path)


def test_a_row_of_the_configs_own_is_not_blamed_on_a_file(tmp_path):
    cfg = minimal_config(tmp_path, {"a.yaml": ROW.format(name="x")}, {"ours": {"lr": -1}})
    with pytest.raises(nnconfig.ConfigError, match=r"^runs\.ours\.lr: -1"):
        load(cfg, tmp_path)


def test_too_many_files_are_refused_before_reading_them(tmp_path, monkeypatch):
    monkeypatch.setattr(source_files, "MAX_SOURCE_FILES", 2)
    cfg = minimal_config(tmp_path, {f"{i}.yaml": "not: [valid" for i in range(3)})
    with pytest.raises(nnconfig.ConfigError, match="holds more than 2 source files"):
        load(cfg, tmp_path)


def test_read_merges_the_sources_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = nnconfig.read(REPO / "config.yaml")
    assert config["reproductions"] is None and "nielsen-ch1-30" in config["runs"]
    _, runs, _ = nnconfig.load(config, SCHEMA)
    assert "nielsen-ch1-30" in runs and "best" in runs
