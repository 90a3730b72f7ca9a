"""Where the MNIST files come from: the mirrors in the order they are tried, and the config as the
report shows it, without the credentials in their URLs."""

from __future__ import annotations

from nn.mnist.http import redact


def mirrors(config: dict) -> list[str]:
    """The user's mnist_mirror first, then the configured ones, without repeats."""
    first = [config["mnist_mirror"]] if config.get("mnist_mirror") else []
    out = []
    for m in first + list(config["download"]["mirrors"]):
        if m not in out:
            out.append(m)
    return out


def redacted(config: dict) -> dict:
    """A copy of `config` with the credentials of every mirror URL replaced by *** (for the report)."""
    out = {**config}
    if out.get("mnist_mirror"):
        out["mnist_mirror"] = redact(out["mnist_mirror"])
    if isinstance(out.get("download"), dict):
        out["download"] = {**out["download"], "mirrors": [redact(m) for m in out["download"].get("mirrors", [])]}
    return out
