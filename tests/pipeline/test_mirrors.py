"""nn.pipeline.mirrors: the mirrors' order and the config with their credentials redacted."""

from helpers import load
from nn.pipeline import config as nnconfig
from nn.pipeline import mirrors


def test_mirrors_put_the_users_first_without_repeats(cfg):
    cfg["mnist_mirror"] = cfg["download"]["mirrors"][1]
    config, _, _ = load(cfg)
    m = nnconfig.mirrors(config)
    assert m[0] == cfg["download"]["mirrors"][1] and len(m) == len(set(m)) == len(cfg["download"]["mirrors"])


def test_redacted_hides_mirror_credentials_only(cfg):
    cfg["mnist_mirror"] = "https://me:pw@example.org/mnist/"
    cfg["download"]["mirrors"] = ["http://u:p@host:8080/x/", "https://plain.example/y/"]
    shown = nnconfig.redacted(cfg)
    assert shown["mnist_mirror"] == "https://***@example.org/mnist/"
    assert shown["download"]["mirrors"] == ["http://***@host:8080/x/", "https://plain.example/y/"]
    assert cfg["download"]["mirrors"][0] == "http://u:p@host:8080/x/", "the config itself is unchanged"
    assert shown["download"]["sha256"] == cfg["download"]["sha256"]


def test_mirrors_and_redacted_on_a_constructed_config():
    config = {
        "mnist_mirror": "http://me:pw@b.org/",
        "download": {"mirrors": ["http://a.org/", "http://me:pw@b.org/"], "timeout": 5},
    }
    assert mirrors.mirrors(config) == ["http://me:pw@b.org/", "http://a.org/"]
    assert mirrors.mirrors({"download": {"mirrors": ["x", "x"]}}) == ["x"]
    shown = mirrors.redacted(config)
    assert shown["mnist_mirror"] == "http://***@b.org/"
    assert shown["download"] == {"mirrors": ["http://a.org/", "http://***@b.org/"], "timeout": 5}
    assert config["download"]["mirrors"][1] == "http://me:pw@b.org/"  # a copy: the config keeps its credentials
