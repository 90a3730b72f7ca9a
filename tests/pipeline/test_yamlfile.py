"""nn.pipeline.yamlfile: the config file read strictly and within bounds, each problem in one line naming the file."""

import pytest

from nn.pipeline import config as nnconfig
from nn.pipeline import yamlfile


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("runs:\n  a:\n    lr: [0.1\n    epochs: 3\n")
    with pytest.raises(nnconfig.ConfigError, match=r"config.yaml: YAML syntax error at line 4, column \d+"):
        nnconfig.check_yaml_syntax(bad)
    bad.write_text("runs:\n  a: {}\n")
    nnconfig.check_yaml_syntax(bad)  # a valid file passes silently


@pytest.mark.parametrize(
    "text, line",
    [
        ("runs:\n  a: {}\n  b: {}\n  a: {lr: 0.5}\n", "key 'a' is written twice in one mapping (lines 2 and 4)"),
        (
            "runs:\n  a:\n    lr: 0.1\n    epochs: 2\n    lr: 0.2\n",
            "key 'lr' is written twice in one mapping (lines 3 and 5)",
        ),
        ("download: {}\nruns: {}\ndownload: {}\n", "key 'download' is written twice in one mapping (lines 1 and 3)"),
    ],
)
def test_a_key_written_twice_is_named_with_its_lines(tmp_path, text, line):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(nnconfig.ConfigError) as e:
        nnconfig.check_yaml_syntax(path)
    assert str(e.value) == f"{path}: {line}; keep one"


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]  # 9**12 values
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\nruns: {a: {}}\n")
    with pytest.raises(nnconfig.ConfigError) as e:
        nnconfig.check_yaml_syntax(path)
    assert str(e.value) == f"{path}: its YAML aliases expand to more than 100000 values (an alias bomb?); refusing"
    path.write_text("base: &b {lr: 0.1}\nruns: {a: *b, b: *b}\n")  # ordinary anchors are fine
    nnconfig.check_yaml_syntax(path)


def test_a_config_file_over_1_mb_is_refused_unread(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("# " + "x" * (1 << 20) + "\nruns: {a: {}}\n")
    with pytest.raises(
        nnconfig.ConfigError, match=r"config.yaml: \d+ bytes, over the bound of 1048576 for a config file"
    ):
        nnconfig.check_yaml_syntax(path)


def test_read_strict_reads_a_document_and_names_the_file_of_a_key_written_twice(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("a: &x [1, 2]\nb: *x\nc: 1e-3\n")
    assert yamlfile.read_strict(good) == {"a": [1, 2], "b": [1, 2], "c": "1e-3"}  # YAML 1.1: a string
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert yamlfile.read_strict(empty) is None
    twice = tmp_path / "twice.yaml"
    twice.write_text("a: 1\nb: 2\na: 3\n")
    message = rf"^{twice}: key 'a' is written twice in one mapping \(lines 1 and 3\)"
    with pytest.raises(yamlfile.ConfigError, match=message):
        yamlfile.read_strict(twice)
    with pytest.raises(FileNotFoundError):
        yamlfile.read_strict(tmp_path / "absent.yaml")
