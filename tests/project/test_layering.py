"""The layering of nn/ (docs/architecture.md), held by reading every file's imports.

The library (nn/*.py) imports numpy and itself only, and never reads the pipeline's `hp`,
names Snakemake or a path under results/. nn.mnist, nn.report and nn.predict import the
library (and each other), never nn.pipeline. nn.pipeline may import all of them.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

NN = REPO / "nn"
SUBPACKAGES = ("mnist", "report", "predict", "pipeline")
# what the library may import besides itself: the standard library and numpy
ALLOWED_THIRD_PARTY = {"numpy"}


def layering_problems(root: Path = REPO) -> list[str]:
    """One line per import or word that breaks the layering, for the files under root/nn."""
    nn_dir = root / "nn"
    problems = []
    for path in sorted(nn_dir.rglob("*.py")):
        rel = path.relative_to(root)
        ring = rel.parts[1] if len(rel.parts) > 2 else "library"
        for module in imported_modules_at(path, root):
            top = module.split(".")[0]
            if ring == "library":
                if top == "nn" and len(module.split(".")) > 1 and module.split(".")[1] in SUBPACKAGES:
                    problems.append(f"{rel}: the library imports {module}")
                elif top not in ("nn", *ALLOWED_THIRD_PARTY) and top not in sys.stdlib_module_names:
                    problems.append(f"{rel}: the library imports {module} (numpy and the standard library only)")
            elif ring in ("mnist", "report", "predict") and module.startswith("nn.pipeline"):
                problems.append(f"{rel}: nn.{ring} imports {module} (the pipeline imports it, not the other way)")
        if ring == "library":
            text = path.read_text(encoding="utf-8")
            for pattern, what in (
                (r"\bhp\b", "the pipeline's hp"),
                (r"(?i)snakemake", "Snakemake"),
                (r"results/", "a path under results/"),
            ):
                for lineno, line in enumerate(text.splitlines(), 1):
                    if re.search(pattern, line):
                        problems.append(f"{rel}:{lineno}: the library mentions {what}: {line.strip()}")
    return problems


def imported_modules_at(path: Path, root: Path) -> set[str]:
    package = ".".join(path.relative_to(root).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            for a in node.names:  # `from nn import pipeline`: the name is a subpackage
                candidate = root.joinpath(*base.split("."), a.name)
                if candidate.is_dir() or candidate.with_suffix(".py").is_file():
                    found.add(f"{base}.{a.name}")
    return found


def test_the_layering_holds():
    assert layering_problems() == []


def copy_of_nn(tmp_path) -> Path:
    shutil.copytree(NN, tmp_path / "nn", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    "planted, expected",
    [
        ("nn/optim.py", "nn/optim.py: the library imports nn.pipeline.config"),
        ("nn/report/html.py", "nn/report/html.py: nn.report imports nn.pipeline.config"),
    ],
)
def test_a_wrong_way_import_is_caught(tmp_path, planted, expected):
    root = copy_of_nn(tmp_path)
    path = root / planted
    path.write_text(path.read_text(encoding="utf-8") + "\nfrom nn.pipeline import config  # planted\n")
    assert any(p.startswith(expected) for p in layering_problems(root))


def test_a_relative_wrong_way_import_is_caught(tmp_path):
    root = copy_of_nn(tmp_path)
    path = root / "nn" / "mnist" / "data.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nfrom ..pipeline import config  # planted\n")
    assert any("nn/mnist/data.py: nn.mnist imports nn.pipeline" in p for p in layering_problems(root))


@pytest.mark.parametrize(
    "line, what",
    [
        ("def f(hp):\n    return hp['lr']\n", "the pipeline's hp"),
        ("# run snakemake --forcerun train\n", "Snakemake"),
        ("PATH = 'results/runs'\n", "a path under results/"),
        ("import yaml\n", "yaml"),
    ],
)
def test_the_library_keeps_to_itself(tmp_path, line, what):
    root = copy_of_nn(tmp_path)
    path = root / "nn" / "layers.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line)
    assert any(p.startswith("nn/layers.py") and what in p for p in layering_problems(root))


def test_the_public_api_imports_lazily_and_works():
    code = (
        "import sys, nn; assert 'nn.model' not in sys.modules and 'numpy' not in sys.modules; "
        "from nn import Sequential, Linear, ReLU, SGD, Adam, fit, FitConfig, TrainState; "
        "assert Sequential.__module__ == 'nn.model' and fit.__module__ == 'nn.train'"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# The sources' parts (docs/architecture.md): registered names of layers and losses, and init schemes' names,
# all in nn/quirks.py.
QUIRKS = {"relu_identity_grad", "scaled", "label_difference", "plain", "uniform_pm1"}


def quirks_outside(root: Path = REPO) -> list[str]:
    """One line per quirk defined outside nn/quirks.py: a class registered (@register("name")) or named
    (`name = "..."`, a loss) as one, or a module-level function of an init scheme's name."""
    found = []
    for path in sorted((root / "nn").rglob("*.py")):
        rel = path.relative_to(root)
        if rel == Path("nn", "quirks.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = set()
            if isinstance(node, ast.ClassDef):
                names |= {
                    d.args[0].value
                    for d in node.decorator_list
                    if isinstance(d, ast.Call) and d.args and isinstance(d.args[0], ast.Constant)
                }
                names |= {
                    s.value.value
                    for s in node.body
                    if isinstance(s, ast.Assign)
                    and isinstance(s.value, ast.Constant)
                    and any(getattr(t, "id", None) == "name" for t in s.targets)
                }
            elif isinstance(node, ast.FunctionDef) and node.col_offset == 0:
                names.add(node.name)
            found += [f"{rel}:{node.lineno}: {name} is defined outside nn/quirks.py" for name in sorted(names & QUIRKS)]
    return found


def test_the_quirks_live_in_nn_quirks():
    assert quirks_outside() == []
    from nn.init import INITS
    from nn.layers import ACTIVATIONS, LAYERS
    from nn.losses import LOSSES

    registered = [
        LAYERS["relu_identity_grad"],
        ACTIVATIONS["scaled"],
        LOSSES["label_difference"],
        INITS["plain"],
        INITS["uniform_pm1"],
    ]
    assert [q.__module__ for q in registered] == ["nn.quirks"] * 5


@pytest.mark.parametrize(
    "planted, where",
    [
        ('@register("scaled", activation=True)\nclass Scaled2(Activation):\n    pass\n', "nn/layers.py"),
        ('class LabelDifference2:\n    name = "label_difference"\n', "nn/losses.py"),
        ("def plain(n_in, n_out, rng, scale=0.01):\n    return None\n", "nn/init.py"),
    ],
)
def test_a_quirk_outside_nn_quirks_is_caught(tmp_path, planted, where):
    root = copy_of_nn(tmp_path)
    path = root / where
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + planted)
    assert any(p.startswith(f"{where}:") for p in quirks_outside(root)), quirks_outside(root)


# The ledger's verdict rule: its constants, its words and the stall rule (nn/report/verdicts.py).
VERDICT_POLICY = {
    "REPRODUCED_HALF_WIDTH",
    "SMALL_SET_FACTOR",
    "SPREAD_MIN_SEEDS",
    "STALL_POINTS",
    "reproduced_limit",
    "judge",
    "judge_within",
    "verdict",
    "stalls",
}


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {t.id for t in ast.walk(target) if isinstance(t, ast.Name)}
    return names


def verdict_policy_problems(root: Path = REPO) -> list[str]:
    """One line per place where the verdict rule is defined or reached outside nn/report/verdicts.py."""
    problems = [
        f"nn/stats.py defines {n}: the verdict rule lives in nn/report/verdicts.py"
        for n in sorted(top_level_names(root / "nn" / "stats.py") & VERDICT_POLICY)
    ]
    problems += [
        f"nn/report/verdicts.py lacks {n}"
        for n in sorted(VERDICT_POLICY - top_level_names(root / "nn" / "report" / "verdicts.py"))
    ]
    for path in sorted(
        [
            *(root / "nn").rglob("*.py"),
            *(root / "workflow").rglob("*.py"),
            *(root / "benchmarks").rglob("*.py"),
            *(root / "tests").rglob("*.py"),
        ]
    ):
        rel = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "nn.stats":
                problems += [
                    f"{rel}:{node.lineno}: imports {a.name} from nn.stats"
                    for a in node.names
                    if a.name in VERDICT_POLICY
                ]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "stats"
                and node.attr in VERDICT_POLICY
            ):
                problems.append(f"{rel}:{node.lineno}: stats.{node.attr}")
    named = re.compile(r"nn\.stats\.(" + "|".join(sorted(VERDICT_POLICY)) + r")\b")
    for path in sorted(
        [
            *(root / "docs").rglob("*.md"),
            *(root / "nn").rglob("*.py"),
            *(root / "workflow").rglob("*"),
            *root.glob("*.md"),
        ]
    ):
        if path.is_file() and path.suffix in (".md", ".py", ".smk", ".yaml", ".rst"):
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if m := named.search(line):
                    problems.append(f"{path.relative_to(root)}:{lineno}: names {m.group(0)}")
    return problems


def test_the_verdict_policy_lives_in_nn_report_verdicts():
    assert verdict_policy_problems() == []


def test_a_verdict_rule_in_nn_stats_is_caught(tmp_path):
    for d in ("nn", "docs", "workflow", "tests", "benchmarks"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__", "*.npy", "*.npz"))
    stats = tmp_path / "nn" / "stats.py"
    stats.write_text(stats.read_text(encoding="utf-8") + "\nSPREAD_MIN_SEEDS = 8\n\ndef judge(*a):\n    return 'x'\n")
    rep = tmp_path / "nn" / "report" / "reproduction.py"
    rep.write_text(rep.read_text(encoding="utf-8") + "\nx = stats.stalls([1.0])\n")
    problems = verdict_policy_problems(tmp_path)
    assert any("nn/stats.py defines judge" in p for p in problems)
    assert any("nn/stats.py defines SPREAD_MIN_SEEDS" in p for p in problems)
    assert any("reproduction.py" in p and "stats.stalls" in p for p in problems)
