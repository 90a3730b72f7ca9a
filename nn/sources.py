"""Which nn/*.py files a module pulls in, and a fingerprint of their content for rules.

Snakemake never tracks imported modules. A rule whose `params:` hold the content hash
of every file its script imports (transitively) reruns exactly when that code changes.
A hash, not the files as `input:`: an input is recorded by its path, and the absolute
path of nn/ changes whenever the project is moved, copied or run with `--directory`,
which would rerun everything for nothing.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _nn_imports(path: Path) -> set[str]:
    """Names of nn modules imported by one file (`import nn.x`, `from nn import x`, `from .x import y`)."""
    st = Path(path).stat()
    return set(_parsed_imports(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _parsed_imports(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    # keyed by the file's stat too, so an edited file is parsed again; the Snakefile asks for the
    # same files once per rule, and parsing them was a fifth of a no-op `snakemake`
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"), path)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("nn.")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1 or mod == "nn" or mod.startswith("nn."):
                sub = mod.split(".")[1] if mod.startswith("nn.") else (mod.split(".")[0] if node.level else "")
                if sub:
                    found.add(sub)
                else:  # `from nn import x, y` or `from . import x`
                    found |= {a.name for a in node.names}
    return frozenset(m for m in found if (PACKAGE_DIR / f"{m}.py").exists())


def module_sources(*modules: str) -> list[str]:
    """Absolute paths of nn/<m>.py for the given modules and everything they import, sorted."""
    todo, seen = list(modules), set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        path = PACKAGE_DIR / f"{m}.py"
        if not path.exists():
            raise FileNotFoundError(f"nn/{m}.py: no such module")
        seen.add(m)
        todo.extend(_nn_imports(path) - seen)
    return sorted(str(PACKAGE_DIR / f"{m}.py") for m in seen)


def script_sources(script) -> list[str]:
    """The nn files a script imports, directly or not (the script itself is tracked by Snakemake)."""
    return module_sources(*sorted(_nn_imports(Path(script))))


def code_fingerprint(script, *extra) -> dict[str, str]:
    """{path relative to the project: SHA-256 of its bytes} for the nn files `script` imports
    and the `extra` files: equal wherever the project lives, different after any edit."""
    root = PACKAGE_DIR.parent
    files = [Path(p) for p in script_sources(script)] + [Path(p).resolve() for p in extra]
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}
