"""config.yaml validation and expansion (nn.pipeline.config)."""

import copy
from pathlib import Path

import pytest
import yaml

from conftest import CITED
from nn.pipeline import config as nnconfig
from nn.pipeline.resources import usable_cpus
from nn.pipeline.sources import code_fingerprint, module_sources, script_sources

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def cfg():
    return nnconfig.read(REPO / "config.yaml")


def load(c):
    return nnconfig.load(c, SCHEMA)


def test_default_config_expands_every_run_with_every_key(cfg):
    config, runs, sweeps = load(cfg)
    keys = set(config["defaults"])
    assert {"hidden", "lr", "schedule", "seed", "threads", "dtype", "reference"} <= keys
    assert "best" in runs and "nielsen-ch1-30" in runs
    for name, hp in runs.items():
        assert set(hp) - {"scored_from"} == keys, name  # scored_from: only a row that trains nothing
        assert list(hp) == sorted(hp), "params must be canonical (sorted keys)"
    assert sweeps["width"]["keys"] == ["hidden"]
    assert list(sweeps["width"]["runs"]) == [f"width-hidden-{w}" for w in (16, 32, 64, 128, 256)]
    assert runs["width-hidden-16"]["hidden"] == [16] and runs["width-hidden-16"]["momentum"] == 0.9


def test_two_key_sweep_names_are_deterministic(cfg):
    cfg["sweeps"] = {"g": {"grid": {"lr": [0.1, 0.5], "momentum": [0.0, 0.9]}}}
    cfg["comparisons"] = []
    _, runs, sweeps = load(cfg)
    assert list(sweeps["g"]["runs"]) == [
        "g-lr-0.1_momentum-0.0",
        "g-lr-0.1_momentum-0.9",
        "g-lr-0.5_momentum-0.0",
        "g-lr-0.5_momentum-0.9",
    ]
    assert runs["g-lr-0.5_momentum-0.9"]["lr"] == 0.5


def test_defaults_filled_from_schema(cfg):
    del cfg["defaults"]["threads"], cfg["evaluation"]
    config, runs, _ = load(cfg)
    assert config["defaults"]["threads"] == 1 and config["evaluation"]["gallery_size"] == 16
    assert runs["nielsen-ch1-30"]["threads"] == 1


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["runs"]["best"].update(lrr=0.1), "runs.best: Additional properties are not allowed ('lrr'"),
        (lambda c: c.update(colour="red"), "('colour' was unexpected)"),
        (lambda c: c["runs"]["best"].update(lr="fast"), "runs.best.lr: 'fast' is not of type 'number'"),
        (lambda c: c["runs"]["best"].update(lr=-1), "runs.best.lr: -1 is less than or equal to the minimum of 0"),
        (lambda c: c["runs"]["best"].update(lr=0), "runs.best.lr: 0 is less than or equal to the minimum of 0"),
        (lambda c: c["runs"]["best"].update(batch_size=0), "runs.best.batch_size: 0 is less than the minimum of 1"),
        (lambda c: c["runs"]["best"].update(epochs=-3), "runs.best.epochs: -3 is less than the minimum of 0"),
        (lambda c: c["runs"]["best"].update(hidden=[128, 0]), "runs.best.hidden[1]: 0 is less than the minimum of 1"),
        (lambda c: c["defaults"].update(activation="swish"), "defaults.activation: 'swish' is not one of"),
        (lambda c: c["runs"].update({"a/b": {}}), "runs: name 'a/b' is not allowed"),
        (lambda c: c["runs"].update({"..": {}}), "runs: name '..' is not allowed"),
        (lambda c: c["runs"].update({"a..b": {}}), "runs: name 'a..b' is not allowed"),
        (lambda c: c["runs"].update({"my run": {}}), "runs: name 'my run' is not allowed"),
        (lambda c: c.update(runs=None), "runs: is empty"),
        (lambda c: c.update(runs={}), "runs: is empty"),
        (lambda c: c["sweeps"]["width"]["grid"].update(colour=[1]), "sweeps.width.grid.colour: not a hyperparameter"),
        (
            lambda c: c["sweeps"]["width"]["grid"].update(hidden=[[0]]),
            "sweeps.width.grid.hidden[0]: 0 is less than the minimum of 1",
        ),
        (
            lambda c: c["download"]["sha256"].update({"t10k-images-idx3-ubyte": "abc"}),
            "download.sha256.t10k-images-idx3-ubyte: 'abc' does not match",
        ),
        (
            lambda c: c["runs"]["best"].update(reference={"accuracy": 99.2, "source": "x"}),
            "runs.best.reference.accuracy: 99.2 is greater than the maximum of 1",
        ),
        (
            lambda c: c["runs"]["best"].update(weight_decay=float("inf")),
            "runs.best.weight_decay: inf is not a finite number",
        ),
        (
            lambda c: c["runs"]["best"].update(weight_decay=float("nan")),
            "runs.best.weight_decay: nan is not a finite number",
        ),
        (lambda c: c["defaults"].update(lr=float("-inf")), "defaults.lr: -inf is not a finite number"),
        (lambda c: c["download"].update(timeout=float("inf")), "download.timeout: inf is not a finite number"),
        (
            lambda c: c["sweeps"]["width"]["grid"].update(lr=[0.1, float("nan")]),
            "sweeps.width.grid.lr[1]: nan is not a finite number",
        ),
        (lambda c: c["runs"]["best"].update(epochs=2.5), "runs.best.epochs: 2.5 is not of type 'integer'"),
        (lambda c: c["runs"]["best"].update(lr="1e-3x"), "runs.best.lr: '1e-3x' is not of type 'number'"),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(cfg, edit, expected):
    assert_refused_in_one_line(cfg, edit, expected)


def assert_refused_in_one_line(cfg, edit, expected: str) -> None:
    """The config after `edit` is refused with one line holding `expected`."""
    edit(cfg)
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_sweep_run_colliding_with_a_run_is_refused(cfg):
    cfg["runs"]["width-hidden-16"] = {}
    with pytest.raises(nnconfig.ConfigError, match="sweeps.width: run name 'width-hidden-16' already exists"):
        load(cfg)


def test_mirrors_put_the_users_first_without_repeats(cfg):
    cfg["mnist_mirror"] = cfg["download"]["mirrors"][1]
    config, _, _ = load(cfg)
    m = nnconfig.mirrors(config)
    assert m[0] == cfg["download"]["mirrors"][1] and len(m) == len(set(m)) == len(cfg["download"]["mirrors"])


def test_validation_does_not_change_a_valid_config_twice(cfg):
    once, _, _ = load(copy.deepcopy(cfg))
    twice, _, _ = load(copy.deepcopy(once))
    assert once == twice


def test_module_sources_follow_imports_transitively(tmp_path):
    files = module_sources("nn.mnist.download")
    # download imports fileio (which imports _tempfiles), http and idx; importing nn.mnist.x runs nn/__init__.py
    # and nn/mnist/__init__.py
    assert files == [
        str(REPO / "nn" / n)
        for n in (
            "__init__.py",
            "_tempfiles.py",
            "fileio.py",
            "mnist/__init__.py",
            "mnist/download.py",
            "mnist/http.py",
            "mnist/idx.py",
        )
    ]
    script = tmp_path / "s.py"
    script.write_text("import os\nfrom nn.mnist import http\nimport nn.stats\n")
    assert script_sources(script) == sorted(
        str(REPO / "nn" / n) for n in ("__init__.py", "mnist/__init__.py", "mnist/http.py", "stats.py")
    )
    with pytest.raises(FileNotFoundError, match="nn.nope: no such module"):
        module_sources("nn.nope")


def test_a_name_from_the_public_api_counts_as_the_module_that_defines_it(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from nn import SGD, fileio\n")  # SGD through nn/__init__.py's lazy API table
    expected = ("__init__.py", "_tempfiles.py", "fileio.py", "optim.py")
    assert script_sources(script) == [str(REPO / "nn" / n) for n in expected]


def test_relative_imports_are_followed(tmp_path):
    # nn/report/published.py and its siblings: `from .figures import x` would be nn.report.figures
    from nn.pipeline.sources import _parsed_imports

    package = REPO / "nn" / "report"
    probe = package / "_probe_relative.py"
    probe.write_text("from .figures import DPI\nfrom .. import stats\n")
    try:
        st = probe.stat()
        assert _parsed_imports(str(probe), st.st_mtime_ns, st.st_size) == {"nn.report.figures", "nn.stats"}
    finally:
        probe.unlink()


def test_the_import_scan_finds_what_the_parser_finds_and_no_more():
    # nn.pipeline.sources reads import statements only (ast-parsing whole files cost a no-op
    # `snakemake` a fifth of its time); every form an import takes, and none in a string
    import ast
    from nn.pipeline.sources import import_statements

    text = (
        '"""A docstring whose example says\nfrom nn import SGD\nimport nn.stats\n"""\n'
        "import os, nn.fileio  # a comment (with a bracket\n"
        "from nn.mnist import (http,\n    idx)  # closed here\n"
        "from nn.report import \\\n    figures\n"
        "def f():\n    from nn import train\n    x = '''\nimport nn.init\n'''\n"
        "from nn.model import mlp; import nn.losses\n"
    )
    walked = sorted(ast.dump(n) for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert sorted(ast.dump(n) for n in import_statements(text)) == walked
    assert len(walked) == 6
    # and on every Python file of the project
    for path in [*REPO.glob("nn/**/*.py"), *REPO.glob("workflow/scripts/*.py"), *REPO.glob("tests/*.py")]:
        text = path.read_text(encoding="utf-8")
        walked = sorted(ast.dump(n) for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom)))
        assert sorted(ast.dump(n) for n in import_statements(text)) == walked, path


def test_code_fingerprint_is_relative_and_follows_content(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from nn.mnist import http\n")
    helper = REPO / "workflow" / "scripts" / "_common.py"
    prints = code_fingerprint(script, helper)
    # no absolute path; the helper's own nn imports count too (_common pins the numerics)
    assert sorted(prints) == [
        "nn/__init__.py",
        "nn/mnist/__init__.py",
        "nn/mnist/http.py",
        "nn/pipeline/__init__.py",
        "nn/pipeline/numerics.py",
        "workflow/scripts/_common.py",
    ]
    import hashlib

    assert prints["nn/mnist/http.py"] == hashlib.sha256((REPO / "nn" / "mnist" / "http.py").read_bytes()).hexdigest()


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("runs:\n  a:\n    lr: [0.1\n    epochs: 3\n")
    with pytest.raises(nnconfig.ConfigError, match=r"config.yaml: YAML syntax error at line 4, column \d+"):
        nnconfig.check_yaml_syntax(bad)
    bad.write_text("runs:\n  a: {}\n")
    nnconfig.check_yaml_syntax(bad)  # a valid file passes silently


def test_replicates_give_one_seed_each_and_leave_the_training_params_alone(cfg):
    cfg["runs"]["best"].update(seed=7, replicates=3)
    _, runs, _ = load(cfg)
    assert nnconfig.seeds(runs["best"]) == [7, 8, 9]
    job = nnconfig.seed_hparams(runs["best"], 8)
    assert job["seed"] == 8 and "replicates" not in job and "reference" not in job and list(job) == sorted(job)
    cfg["runs"]["best"]["replicates"] = 5
    _, more, _ = load(cfg)
    assert nnconfig.seed_hparams(more["best"], 8) == job  # more seeds: the existing ones unchanged


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "measure": "peak_test"}),
            "runs.best.reference.measure: peak_test needs monitor_test: true in this run",
        ),
        (
            lambda r: r.update(validation=0, reference={"accuracy": 0.9, "source": "x", "measure": "final_validation"}),
            "runs.best.reference.measure: final_validation needs validation > 0 in this run",
        ),
        (
            lambda r: r.update(
                monitor_test=True,
                reference={
                    "accuracy": 0.9,
                    "source": "x",
                    "curves": {"test_accuracy": {"epochs": [1, 2], "values": [0.5]}},
                },
            ),
            "runs.best.reference.curves.test_accuracy: 2 epochs but 1 values",
        ),
        (
            lambda r: r.update(
                monitor_test=True,
                epochs=3,
                reference={
                    "accuracy": 0.9,
                    "source": "x",
                    "curves": {"test_accuracy": {"epochs": [4], "values": [0.5]}},
                },
            ),
            "runs.best.reference.curves.test_accuracy: epoch 4 is past the run's 3 epochs",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "kind": "copy"}),
            "runs.best.reference.kind: 'copy' is not one of ['reproduction', 'comparison']",
        ),
    ],
)
def test_reference_cross_checks(cfg, edit, message):
    edit(cfg["runs"]["best"])
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg)
    assert str(e.value) == message


def test_reference_defaults_and_comparisons(cfg):
    cfg["runs"]["best"]["reference"] = {"accuracy": 0.99, "source": "x"}
    config, runs, _ = load(cfg)
    assert nnconfig.comparisons(config, runs)[0] == ("width-hidden-64", "width-hidden-128")
    assert runs["best"]["reference"]["kind"] == "comparison" and runs["best"]["reference"]["measure"] == "final_test"
    cfg["comparisons"] = [["best", "nope"]]
    with pytest.raises(nnconfig.ConfigError, match=r"comparisons\[0\]: 'nope' is not a run"):
        load(cfg)
    cfg["comparisons"] = [["best", "best"]]
    with pytest.raises(nnconfig.ConfigError, match="compares 'best' with itself"):
        load(cfg)


def test_whole_floats_and_yaml11_exponents_mean_what_they_say(cfg):
    text = yaml.safe_dump(cfg).replace(
        "runs:\n",
        "runs:\n  typed:\n    epochs: 10.0\n    batch_size: 128.0\n"
        "    lr: 1e-3\n    hidden: [64.0, 32]\n    weight_decay: 5e-4\n",
        1,
    )
    raw = yaml.safe_load(text)
    assert raw["runs"]["typed"]["lr"] == "1e-3" and raw["runs"]["typed"]["epochs"] == 10.0  # what YAML 1.1 gives
    _, runs, _ = load(raw)
    hp = runs["typed"]
    assert (hp["epochs"], hp["batch_size"], hp["lr"], hp["hidden"], hp["weight_decay"]) == (
        10,
        128,
        0.001,
        [64, 32],
        0.0005,
    )
    assert [type(hp[k]) for k in ("epochs", "batch_size", "lr")] == [int, int, float]
    assert type(hp["hidden"][0]) is int


def test_sweep_grids_are_coerced_too(cfg):
    cfg["sweeps"], cfg["comparisons"] = {"g": {"grid": {"lr": ["1e-2", 0.1], "epochs": [2.0]}}}, []
    _, runs, sweeps = load(cfg)
    assert list(sweeps["g"]["runs"]) == ["g-lr-0.01_epochs-2", "g-lr-0.1_epochs-2"]
    assert runs["g-lr-0.01_epochs-2"]["epochs"] == 2 and type(runs["g-lr-0.01_epochs-2"]["epochs"]) is int


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


def test_threads_above_the_cpu_count_are_lowered_with_a_warning(cfg):
    cfg["defaults"]["threads"] = 64
    cfg["runs"]["best"]["threads"] = 3
    cfg["sweeps"] = {"t": {"base": {"threads": 9}, "grid": {"threads": [1, 8]}}}
    warnings = nnconfig.cap_threads(cfg, 2)
    assert warnings == [
        "defaults.threads: 64 is more than the 2 CPUs here; using 2",
        "runs.best.threads: 3 is more than the 2 CPUs here; using 2",
        "sweeps.t.base.threads: 9 is more than the 2 CPUs here; using 2",
        "sweeps.t.grid.threads: [1, 8] has values above the 2 CPUs here; using [1, 2]",
    ]
    assert cfg["defaults"]["threads"] == cfg["runs"]["best"]["threads"] == 2 and cfg["sweeps"]["t"]["grid"][
        "threads"
    ] == [1, 2]
    cfg["sweeps"]["t"]["grid"]["threads"] = [4, 8]
    with pytest.raises(nnconfig.ConfigError, match=r"sweeps.t.grid.threads: \[4, 8\] would repeat 2"):
        nnconfig.cap_threads(cfg, 2)


def test_validation_lowers_threads_to_this_machines_cpus(cfg, capsys):
    cfg["runs"]["best"]["threads"] = 10_000
    _, runs, _ = load(cfg)
    cpus = usable_cpus()
    assert runs["best"]["threads"] == min(10_000, cpus)
    assert (
        f"WARNING: runs.best.threads: 10000 is more than the {cpus} CPUs here; using {cpus}" in capsys.readouterr().err
    )


def test_a_run_too_big_for_memory_is_refused_with_the_estimate(cfg):
    cfg["runs"]["huge"] = {"hidden": [100_000_000]}
    _, runs, _ = load(cfg)
    with pytest.raises(nnconfig.ConfigError) as e:
        nnconfig.check_memory(runs, available=16 << 30)
    assert str(e.value) == (
        "runs.huge: training needs about 5.0 TB of memory (hidden [100000000], batch_size 128, "
        "float32); this machine has 17.2 GB"
    )
    del runs["huge"]
    nnconfig.check_memory(runs, available=16 << 30)  # every shipped run fits a small machine


def test_training_memory_estimate_matches_the_measured_default_run():
    from nn.pipeline.resources import training_bytes

    hp = {"hidden": [128], "batch_size": 128, "dtype": "float32"}
    # an upper bound within 1.5x of the measured peak, 284 MB (nn/pipeline/resources.py docstring)
    assert 284e6 <= training_bytes(hp) <= 1.5 * 284e6
    assert training_bytes({**hp, "batch_size": "full"}) > training_bytes(hp)
    assert training_bytes({**hp, "dtype": "float64"}) > training_bytes(hp)


@pytest.mark.parametrize(
    "blas, cores, cpus, claim",
    [
        (1, 4, 2, 2),  # the README's --cores 4 on this 2-CPU machine: two trainings at a time
        (1, 2, 2, 1),
        (1, 1, 2, 1),
        (1, None, 2, 1),  # --cores within the CPUs: the BLAS threads
        (1, 8, 2, 4),
        (2, 4, 2, 4),
        (1, 3, 2, 1),
        (2, 16, 8, 4),
        (4, 8, 2, 8),
    ],
)
def test_training_claim_keeps_trainings_at_once_within_the_cpus(blas, cores, cpus, claim):
    from nn.pipeline.resources import training_claim

    assert training_claim(blas, cores, cpus) == claim
    if cores and cores > cpus:  # well under twice as many training threads at once as CPUs (--cores 4: 2, not 4)
        assert (cores // claim) * blas < 2 * max(cpus, blas)


def test_redacted_hides_mirror_credentials_only(cfg):
    cfg["mnist_mirror"] = "https://me:pw@example.org/mnist/"
    cfg["download"]["mirrors"] = ["http://u:p@host:8080/x/", "https://plain.example/y/"]
    shown = nnconfig.redacted(cfg)
    assert shown["mnist_mirror"] == "https://***@example.org/mnist/"
    assert shown["download"]["mirrors"] == ["http://***@host:8080/x/", "https://plain.example/y/"]
    assert cfg["download"]["mirrors"][0] == "http://u:p@host:8080/x/", "the config itself is unchanged"
    assert shown["download"]["sha256"] == cfg["download"]["sha256"]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://me:p@ss@host/mnist/", "http://***@host/mnist/"),  # a raw @ in the password
        ("https://u:a@b@c@host:81/x?q=1", "https://***@host:81/x?q=1"),
        ("http://host/path?mail=a@b.org", "http://host/path?mail=a@b.org"),  # an @ after the authority
        ("see http://u:pw@h/ and mail me@example.org", "see http://***@h/ and mail me@example.org"),
    ],
)
def test_redact_takes_the_userinfo_up_to_its_last_at_as_urllib_does(url, shown):
    import urllib.parse
    from nn.mnist.http import redact

    assert redact(url) == shown
    parts = urllib.parse.urlsplit(url.split()[1] if url.startswith("see") else url)
    assert parts.password is None or parts.password not in redact(url)


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


def test_optimizer_names_come_from_the_registry(cfg):
    from nn.optim import OPTIMIZERS

    assert nnconfig.load_schema(SCHEMA)["$defs"]["optimizer"]["enum"] == list(OPTIMIZERS)
    cfg["runs"]["best"]["optimizer"] = "adagrad"
    with pytest.raises(
        nnconfig.ConfigError, match="runs.best.optimizer: 'adagrad' is not one of .'sgd', 'adam', 'rmsprop'."
    ):
        load(cfg)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("dropout", 1.0, "runs.best.dropout: 1.0 is greater than or equal to the maximum of 1"),
        ("dropout", [0.2, -0.1], r"runs.best.dropout\[1\]: -0.1 is less than the minimum of 0"),
        ("elastic_sigma", 0, "runs.best.elastic_sigma: 0 is less than or equal to the minimum of 0"),
        ("rotate", -5, "runs.best.rotate: -5 is less than the minimum of 0"),
        ("eps", 0, "runs.best.eps: 0 is less than or equal to the minimum of 0"),
    ],
)
def test_new_keys_are_bounded(cfg, key, value, message):
    cfg["runs"]["best"][key] = value
    with pytest.raises(nnconfig.ConfigError, match=message):
        load(cfg)


def test_new_keys_default_to_off(cfg):
    _, runs, _ = load(cfg)
    hp = runs["nielsen-ch1-30"]
    assert (
        hp["optimizer"],
        hp["dropout"],
        hp["rotate"],
        hp["scale"],
        hp["shear"],
        hp["translate"],
        hp["elastic_alpha"],
    ) == ("sgd", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_source_keys_default_to_todays_behaviour(cfg):
    _, runs, _ = load(cfg)
    hp = runs["keras-mnist-mlp"]  # a run that sets none of them
    assert (hp["inputs"], hp["init_scale"], hp["test_subset"]) == ("unit", None, 0)
    from nn.mnist.data import INPUT_SCALINGS

    assert nnconfig.load_schema(SCHEMA)["$defs"]["inputs"]["enum"] == list(INPUT_SCALINGS)


def test_the_sources_networks_are_configurable(cfg):
    cfg["runs"]["blog"] = {
        "hidden": [30, 30, 10],
        "activation": [{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        "output": "sigmoid",
        "loss": "squared_error",
        "init": "uniform_pm1",
        "inputs": "max_standardise",
        "test_subset": 1000,
        "reference": {"accuracy": 0.85, "source": "x", "kind": "reproduction", "measure": "final_test_subset", **CITED},
    }
    cfg["runs"]["nielsen"] = {
        "monitor_test": True,
        "replicates": 6,
        "inputs": "div256",
        "reference": {"accuracy": 0.9542, "source": "x", "measure": "peak_test", "best_of": 3, "evidence": "from code"},
    }
    cfg["runs"]["notebook"] = {
        "hidden": [128],
        "activation": "relu_identity_grad",
        "output": "relu_identity_grad",
        "loss": "quadratic",
        "init": "plain",
        "init_scale": 0.01,
        "inputs": "raw",
    }
    _, runs, _ = load(cfg)
    assert runs["blog"]["activation"] == [{"scaled": 0.2}, "relu", {"scaled": 0.05}]
    assert runs["blog"]["reference"]["evidence"] == "from code"
    assert (runs["notebook"]["init_scale"], runs["notebook"]["inputs"]) == (0.01, "raw")


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: r.update(activation=["relu"]),
            r"runs.best.activation: lists 1 activations for 2 hidden layers \(hidden \[800, 800\]\)",
        ),
        (lambda r: r.update(activation=[{"scaled": 0}, "relu"]), r"runs.best.activation\[0\].scaled: 0 should not be"),
        (lambda r: r.update(activation=[{"scale": 0.2}, "relu"]), r"runs.best.activation\[0\]: 'scaled' is a required"),
        (
            lambda r: r.update(activation="swish"),
            r"runs.best.activation: 'swish' is not one of \['sigmoid', 'tanh', 'relu', ",
        ),
        (lambda r: r.update(init_scale=0.1), "runs.best.init_scale: init he takes no scale; only plain do"),
        (
            lambda r: r.update(init="plain", init_scale=0),
            "runs.best.init_scale: 0 is less than or equal to the minimum of 0",
        ),
        (lambda r: r.update(inputs="half"), "runs.best.inputs: 'half' is not one of"),
        (lambda r: r.update(test_subset=-1), "runs.best.test_subset: -1 is less than the minimum of 0"),
        (
            lambda r: r.update(output="relu"),
            "runs.best.loss: cross_entropy needs a softmax or sigmoid output layer, not 'relu'",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "measure": "final_test_subset"}),
            "runs.best.reference.measure: final_test_subset needs test_subset > 0 in this run",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "evidence": "from memory"}),
            "runs.best.reference.evidence: 'from memory' is not one of",
        ),
        (
            lambda r: r.update(replicates=5, reference={"accuracy": 0.9, "source": "x", "best_of": 3}),
            r"runs.best.reference.best_of: a best of 3 is judged over our seeds' k-subsets and needs at least 6 seeds "
            r"\(replicates\); this run has 5",
        ),
    ],
)
def test_source_keys_are_checked(cfg, edit, message):
    edit(cfg["runs"]["best"])
    with pytest.raises(nnconfig.ConfigError, match=message):
        load(cfg)


def test_runs_marked_extra_train_only_with_extras_on(cfg):
    extra = sorted(n for n, over in cfg["runs"].items() if (over or {}).get("extra"))
    assert extra, "config.yaml marks some runs extra (the Simard comparisons)"
    _, runs, _ = load(copy.deepcopy(cfg))
    assert not set(extra) & set(runs) and "best" in runs
    _, with_extras, _ = load({**copy.deepcopy(cfg), "extras": True})
    assert set(with_extras) == set(runs) | set(extra)
    # the mark is not a hyperparameter: the other runs' jobs are the same either way
    assert all("extra" not in hp for hp in with_extras.values())
    assert all(with_extras[n] == hp for n, hp in runs.items())
    c = copy.deepcopy(cfg)
    c["comparisons"] = [[extra[0], "best"]]
    with pytest.raises(
        nnconfig.ConfigError,
        match=rf"comparisons\[0\]: '{extra[0]}' is not a run trained here: "
        "it is marked `extra: true` and extras is false",
    ):
        load(c)
    c = {**copy.deepcopy(cfg), "runs": {"a": {"extra": True}}, "sweeps": {}, "comparisons": []}
    with pytest.raises(nnconfig.ConfigError, match="every run is marked `extra: true`"):
        load(c)


# --- a row scored from another run's history (config `scored_from`) ------------------------

SCORED = "pitt-sigmoid-128-20-rounds"


def test_a_scored_row_is_its_parents_first_rounds(cfg):
    """config.yaml's 20-round row states only what it needs and takes the rest from pitt-sigmoid-128."""
    _, runs, _ = load(cfg)
    row, parent = runs[SCORED], runs["pitt-sigmoid-128"]
    assert row["scored_from"] == {"run": "pitt-sigmoid-128", "round": 20}
    assert nnconfig.scored_from(row) and not nnconfig.scored_from(parent)
    assert SCORED not in nnconfig.trained(runs) and "pitt-sigmoid-128" in nnconfig.trained(runs)
    assert row["epochs"] == 20 and row["reference"]["accuracy"] == 0.8909
    assert nnconfig.seeds(row) == nnconfig.seeds(parent)
    # what a separate 20-round training of each seed would be given
    for seed in nnconfig.seeds(row):
        assert nnconfig.seed_hparams(row, seed) == nnconfig.seed_hparams(dict(parent, epochs=20), seed)
    assert list(runs).index(SCORED) == list(runs).index("pitt-sigmoid-128") + 1  # config order kept


def test_a_scored_row_may_state_its_parents_values_and_fewer_seeds_and_a_step_schedule(cfg):
    cfg["runs"][SCORED].update(lr=2, epochs=20, monitor_test=True, replicates=3)
    _, runs, _ = load(cfg)
    assert runs[SCORED]["replicates"] == 3 and runs[SCORED]["lr"] == 2.0
    cfg["runs"]["pitt-sigmoid-128"].update(schedule="step", step_size=10, step_gamma=0.5)
    _, runs, _ = load(cfg)  # step's first rates do not depend on the number of epochs
    assert runs[SCORED]["schedule"] == "step"


def _scored(**over):
    return lambda c: c["runs"][SCORED].update(**over)


def _parent(**over):
    return lambda c: c["runs"]["pitt-sigmoid-128"].update(**over)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (_scored(scored_from={"run": "nope", "round": 20}), f"runs.{SCORED}.scored_from.run: 'nope' is not a run"),
        (
            lambda c: c["runs"].update(again={"scored_from": {"run": SCORED, "round": 10}}),
            f"runs.again.scored_from.run: '{SCORED}' is itself scored_from 'pitt-sigmoid-128' and trains nothing",
        ),
        (
            _parent(monitor_test=False),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128 has no monitor_test, "
            "so its history holds no test accuracy",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128", "round": 101}),
            f"runs.{SCORED}.scored_from.round: 101 is past pitt-sigmoid-128's 100 epochs",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128", "round": 0}),
            f"runs.{SCORED}.scored_from.round: 0 is less than the minimum of 1",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128"}),
            f"runs.{SCORED}.scored_from: 'round' is a required property",
        ),
        (
            _scored(scored_from={"run": "pitt-relu-128-as-published", "round": 20}),
            f"runs.{SCORED}.scored_from.run: pitt-relu-128-as-published's schedule linear depends on its epochs "
            "(epoch 2: lr 0.989899 of 100 epochs, 0.947368 of 20)",
        ),
        (
            _parent(schedule="cosine", lr_min=0.1),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128's schedule cosine depends on its epochs",
        ),
        (
            _parent(validation=10000, early_stopping=5),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128 stops early (early_stopping 5)",
        ),
        (
            _scored(replicates=9),
            f"runs.{SCORED}.replicates: 9, but pitt-sigmoid-128 trains 8 seeds; a row scored from it has at most those",
        ),
        (
            _scored(lr=0.5),
            f"runs.{SCORED}.lr: 0.5, but pitt-sigmoid-128's is 2.0; a row scored_from pitt-sigmoid-128 is its first "
            "rounds and trains nothing (leave lr out)",
        ),
        (_scored(seed=2), f"runs.{SCORED}.seed: 2, but pitt-sigmoid-128's is 1"),
        (_scored(epochs=30), f"runs.{SCORED}.epochs: 30, but it is scored after round 20 (leave epochs out)"),
        (
            lambda c: c["runs"][SCORED]["reference"].update(measure="final_test_subset"),
            f"runs.{SCORED}.reference.measure: final_test_subset is evaluate's figure of a trained model",
        ),
        (
            lambda c: c["comparisons"].append([SCORED, "pitt-sigmoid-128"]),
            f"comparisons[4]: '{SCORED}' is scored_from 'pitt-sigmoid-128' and has no test predictions of its own",
        ),
        (
            lambda c: c.update(predict_dir="digits", predict_run=SCORED),
            f"predict_run: '{SCORED}' is scored_from 'pitt-sigmoid-128' and has no model of its own",
        ),
        (
            lambda c: c["sweeps"]["width"]["base"].update(scored_from={"run": "best", "round": 2}),
            "sweeps.width.base.scored_from: only a row of runs: can be scored from another run",
        ),
        (
            lambda c: c["runs"].update(late={"scored_from": {"run": "simard-800-plain", "round": 2}}),
            "runs.late.scored_from.run: 'simard-800-plain' is not a run trained here: it is marked `extra: true`",
        ),
    ],
)
def test_a_scored_row_that_would_not_be_its_parents_first_rounds_is_refused(cfg, edit, expected):
    assert_refused_in_one_line(cfg, edit, expected)
