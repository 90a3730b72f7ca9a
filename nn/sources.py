"""Which nn/*.py files a module pulls in, so rules can declare them as `input:`.

Snakemake never tracks imported modules; a rule that lists the files its script
imports (transitively) reruns exactly when that code changes.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _nn_imports(path: Path) -> set[str]:
    """Names of nn modules imported by one file (`import nn.x`, `from nn import x`, `from .x import y`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
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
    return {m for m in found if (PACKAGE_DIR / f"{m}.py").exists()}


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
