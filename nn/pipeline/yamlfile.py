"""Reading the pipeline's YAML files (config.yaml, the reproductions' source files) with bounds.

A file is refused with one line naming it and the line of the problem: a syntax error, a key
written twice in one mapping (PyYAML keeps the last, silently), more bytes than a config holds,
or aliases that expand past a bound (an alias bomb).
"""

from __future__ import annotations

import os

import yaml


class ConfigError(ValueError):
    """A config problem; str() is one line naming the file or the key path."""


# libyaml's parser where PyYAML was built with it: the pure-Python one costs a tenth of a second of
# every `snakemake` start (a no-op included) for config.yaml and the schema alone
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last, silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: PyYAML's own error says so
                break
            if first != key_node.start_mark.line + 1:
                raise ConfigError(
                    f"{node.start_mark.name}: key {key!r} is written twice in one mapping "
                    f"(lines {first} and {key_node.start_mark.line + 1}); keep one"
                )
        return super().construct_mapping(node, deep)


MAX_CONFIG_BYTES = 1 << 20  # a config file is a few kB to a few tens of kB
MAX_CONFIG_VALUES = 100_000  # values after YAML aliases are expanded; a config holds a few hundred


def _expanded_size(node, sizes: dict) -> int:
    """Values `node` stands for once every alias is expanded (memoized: linear time, whatever the bomb)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a cycle counts once (PyYAML builds it as a reference)
        children = node.value if isinstance(node.value, list) else []
        flat = [c for pair in children for c in (pair if isinstance(pair, tuple) else (pair,))]
        sizes[id(node)] = 1 + sum(_expanded_size(c, sizes) for c in flat)
    return sizes[id(node)]


def read_strict(path):
    """The document in the YAML file `path`, or ConfigError naming the file (and the line) when it
    is over the bounds, not valid YAML, or writes a key twice in one mapping. FileNotFoundError and
    other OSErrors pass through."""
    try:
        with open(path, encoding="utf-8") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: {size} bytes, over the bound of {MAX_CONFIG_BYTES} for a config file")
            loader = _StrictLoader(f)
            try:
                node = loader.get_single_node()
                if node is not None and _expanded_size(node, {}) > MAX_CONFIG_VALUES:
                    raise ConfigError(
                        f"{path}: its YAML aliases expand to more than {MAX_CONFIG_VALUES} values "
                        "(an alias bomb?); refusing"
                    )
                return None if node is None else loader.construct_document(node)
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" ({e.context} at line {e.context_mark.line + 1})" if e.context and e.context_mark else ""
        raise ConfigError(
            f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: "
            f"{e.problem or e.context}{where}"
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def check_yaml_syntax(path) -> None:
    """Raise ConfigError naming the file and line of a YAML syntax error or of a key written twice
    (Snakemake's message names neither, and it keeps the last of two equal keys without a word).
    A missing file passes: Snakemake's own message says which file is missing."""
    try:
        read_strict(path)
    except FileNotFoundError:
        return
