"""Which nn files a module pulls in, and a fingerprint of their content for rules.

Snakemake never tracks imported modules. A rule whose `params:` hold the content hash
of every file its script imports (transitively) reruns exactly when that code changes.
A hash, not the files as `input:`: an input is recorded by its path, and the absolute
path of nn/ changes whenever the project is moved, copied or run with `--directory`,
which would rerun everything for nothing.

Modules are dotted names ("nn.model", "nn.pipeline.hparams"). Importing one runs the
`__init__.py` of every package above it, so those count too; a name taken from a package's
lazy public API (`from nn import SGD`, the package's `API` table) counts as the module that
defines it, not as every module the table names.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # nn/
ROOT = PACKAGE_DIR.parent


def module_file(module: str) -> Path | None:
    """nn/a/b.py or nn/a/b/__init__.py for "nn.a.b"; None if there is neither."""
    parts = module.split(".")
    if parts[0] != "nn":
        return None
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_of(path: Path) -> str:
    """The dotted package a file belongs to: nn/pipeline/x.py and nn/pipeline/__init__.py -> "nn.pipeline"."""
    return ".".join(Path(path).resolve().relative_to(ROOT).parts[:-1])


@functools.lru_cache(maxsize=64)
def _lazy_api(package: str) -> dict[str, str]:
    """{public name: defining module} from a package's `API = {...}` table (nn/__init__.py)."""
    init = module_file(package)
    if init is None or init.name != "__init__.py":
        return {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "API" for t in node.targets):
            return {k: v for k, v in ast.literal_eval(node.value).items()}
    return {}


def _nn_imports(path: Path) -> set[str]:
    """Dotted nn modules imported by one file: `import nn.x`, `from nn.x import y`, `from . import y`."""
    st = Path(path).stat()
    return set(_parsed_imports(str(path), st.st_mtime_ns, st.st_size))


def _continues(statement: list[str]) -> bool:
    """Whether an import statement goes on past its last line: a trailing backslash or an open bracket."""
    code = " ".join(line.split("#")[0] for line in statement)
    return code.rstrip().endswith("\\") or code.count("(") > code.count(")")


def import_statements(text: str) -> list[ast.stmt]:
    """The `import` and `from ... import` statements of a Python source, wherever they stand (a
    function's lazy import too), each parsed alone: ast-parsing whole files costs a fifth of a no-op
    `snakemake`, and an import statement is one line or a bracketed, backslashed run of lines.
    Lines inside triple-quoted strings (a docstring's example, a test's child program) are not code."""
    lines, found, i, string_end = text.splitlines(), [], 0, None
    while i < len(lines):
        line = lines[i]
        i += 1
        if string_end is not None:  # inside a triple-quoted string
            if string_end in line:
                string_end = None
            continue
        stripped = line.lstrip()
        if stripped.startswith(("import ", "from ")):
            statement = [stripped]
            while _continues(statement) and i < len(lines):
                statement.append(lines[i])
                i += 1
            try:
                found.extend(ast.parse("\n".join(statement)).body)
            except SyntaxError:
                pass
            continue
        for quote in ('"""', "'''"):
            if line.count(quote) % 2:  # opens a string that ends on a later line
                string_end = quote
                break
    return [node for node in found if isinstance(node, (ast.Import, ast.ImportFrom))]


@functools.lru_cache(maxsize=256)
def _parsed_imports(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    # keyed by the file's stat too, so an edited file is parsed again; the Snakefile asks for the
    # same files once per rule
    found = set()
    for node in import_statements(Path(path).read_text(encoding="utf-8")):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "nn" or a.name.startswith("nn.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's own package upwards
                try:
                    package = _package_of(Path(path)).split(".")
                except ValueError:  # a file outside the project
                    continue
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base != "nn" and not base.startswith("nn."):
                continue
            for alias in node.names:
                name = f"{base}.{alias.name}"
                if module_file(name) is not None:  # `from nn.report import figures`
                    found.add(name)
                elif alias.name in _lazy_api(base):  # `from nn import SGD`
                    found.add(_lazy_api(base)[alias.name])
                else:  # `from nn.model import mlp`
                    found.add(base)
    return frozenset(m for m in found if module_file(m) is not None)


def _with_packages(module: str) -> list[str]:
    """The module and every package above it ("nn.a.b" -> "nn", "nn.a", "nn.a.b")."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def module_sources(*modules: str) -> list[str]:
    """Absolute paths of the files of the given dotted modules ("nn.train"), of every nn module
    they import, and of the packages' __init__.py above each, sorted."""
    todo, seen = [m for module in modules for m in _with_packages(module)], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        path = module_file(m)
        if path is None:
            raise FileNotFoundError(f"{m}: no such module under {PACKAGE_DIR}")
        seen.add(m)
        todo.extend(p for imported in _nn_imports(path) for p in _with_packages(imported) if p not in seen)
    return sorted(str(module_file(m)) for m in seen)


def script_sources(script) -> list[str]:
    """The nn files a script imports, directly or not (the script itself is tracked by Snakemake)."""
    return module_sources(*sorted(_nn_imports(Path(script))))


def code_fingerprint(script, *extra) -> dict[str, str]:
    """{path relative to the project: SHA-256 of its bytes} for the nn files `script` imports,
    the `extra` files and the nn files they import: equal wherever the project lives, different
    after any edit."""
    modules = {*script_sources(script), *(m for e in extra for m in script_sources(e))}  # the helper's imports too
    files = [Path(p) for p in modules] + [Path(p).resolve() for p in extra]
    return {f.relative_to(ROOT).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}
