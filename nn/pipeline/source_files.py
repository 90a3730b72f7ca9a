"""The published sources' rows: one YAML file per source, in the folder config `reproductions` names.

Each file holds one source's rows under `runs:`, written exactly as config.yaml's own runs are (the
same keys, defaults and checks: nn.pipeline.config), with the source's evidence in each row's
`reference:`. `merge` puts them in the config before it is validated: the files' rows first, files
in name order, then config.yaml's own. A problem in a file's row is told with the file's name in
front ("reproductions/mine.yaml: runs.mine.lr: ..."): `located` adds it.

docs/your-reproduction.md describes a file field by field.
"""

from __future__ import annotations

from pathlib import Path

from nn.pipeline.yamlfile import ConfigError, read_strict

SUFFIXES = (".yaml", ".yml")
MAX_SOURCE_FILES = 200  # a folder of sources, not of data: bounded before any file is read


def source_paths(folder: Path, shown: str) -> list[Path]:
    """The source files in `folder`, in name order (hidden files and other suffixes are not sources)."""
    if not folder.is_dir():
        raise ConfigError(
            f"reproductions: {shown} is not a folder (a folder of source files, relative to "
            "the config file, or null for none)"
        )
    paths = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix in SUFFIXES and not entry.name.startswith(".") and entry.is_file():
            paths.append(entry)
            if len(paths) > MAX_SOURCE_FILES:
                raise ConfigError(f"reproductions: {shown} holds more than {MAX_SOURCE_FILES} source files")
    return paths


def read_source(path: Path, shown: str) -> dict:
    """{run name: its overrides} of one source file, or ConfigError naming the file."""
    try:
        doc = read_strict(path)
    except OSError as e:
        raise ConfigError(f"{shown}: cannot be read ({e.strerror or e})") from None
    except ConfigError as e:  # named as the config names the folder, not by its absolute path
        raise ConfigError(str(e).replace(str(path), shown)) from None
    if not isinstance(doc, dict) or "runs" not in doc:
        raise ConfigError(f"{shown}: expected a mapping with the source's rows under `runs:`")
    if other := sorted(map(str, set(doc) - {"runs"})):
        raise ConfigError(
            f"{shown}: unknown top-level key {other[0]!r}; a source file holds only `runs:` "
            "(data, defaults and comparisons are config.yaml's)"
        )
    runs = doc["runs"]
    if not isinstance(runs, dict) or not runs:
        raise ConfigError(f"{shown}: runs: is empty; a source file holds at least one row (name: {{settings}})")
    return runs


def merge(config: dict, base_dir) -> dict[str, str]:
    """Put the rows of every source file in config["runs"] (in place), ahead of config.yaml's own, and
    return {run name: the file it came from, as shown in messages}. A run name in two places is an
    error naming both."""
    folder = config.get("reproductions")
    if folder is None:
        return {}
    if not isinstance(folder, str) or not folder:
        raise ConfigError(f"reproductions: expected a folder name or null, got {folder!r}")
    origin, rows = {}, {}
    for path in source_paths(Path(base_dir, folder), folder):
        shown = str(Path(folder, path.name))
        for name, over in read_source(path, shown).items():
            if name in origin:
                raise ConfigError(f"{shown}: run {name!r} is also in {origin[name]}; rename one")
            origin[name], rows[name] = shown, over
    own = config.get("runs") or {}
    if not isinstance(own, dict):
        return origin  # the schema says what is wrong with runs:
    for name, over in own.items():
        if name in origin:
            raise ConfigError(f"runs.{name}: is also a row of {origin[name]}; rename one")
    config["runs"] = {**rows, **own}
    return origin


def located(error: ConfigError, origin: dict[str, str]) -> ConfigError:
    """`error` with the name of the source file in front when it is about one of that file's rows
    (its message starts with the row's key path, runs.<name>)."""
    message = str(error)
    for name in sorted(origin, key=len, reverse=True):  # "runs.a.b" is run "a.b" before run "a"
        if message.startswith((f"runs.{name}.", f"runs.{name}:")) or message.startswith(f"runs: name {name!r}"):
            return ConfigError(f"{origin[name]}: {message}")
    return error
