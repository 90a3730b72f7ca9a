# Helpers shared by the rule files (Snakemake's lint wants functions apart from rules).
from nn.report import failed_runs
from nn.sources import PACKAGE_DIR, code_fingerprint

# Beside the nn package in use (the Snakefile puts its own checkout first on sys.path).
SCRIPTS = os.path.join(PACKAGE_DIR.parent, "workflow", "scripts")


def code(script):
    """A `params:` value: the content hash of every nn file (and the shared script helper) a rule's
    script imports, by path relative to the project. Editing one reruns exactly the rules that import
    it; moving or copying the project, or `--directory`, changes nothing (see nn/sources.py)."""
    return code_fingerprint(os.path.join(SCRIPTS, f"{script}.py"), os.path.join(SCRIPTS, "_common.py"))


# Every run's seeds (config `replicates`), the McNemar pairs, and the decoded test set.
SEEDS = {run: nnconfig.seeds(hp) for run, hp in RUNS.items()}
COMPARISONS = nnconfig.comparisons(config, RUNS)
TEST_DATA = ["results/data/test-images.npy", "results/data/test-labels.npy"]
RUN_PATTERN = "|".join(map(re.escape, RUNS))


def per_seed(pattern, first_only=False):
    """`pattern` (with {run} and {seed}) for every run and each of its seeds, runs in config order."""
    pairs = [(run, seed) for run, seeds in SEEDS.items() for seed in (seeds[:1] if first_only else seeds)]
    return expand(pattern, zip, run=[r for r, _ in pairs], seed=[s for _, s in pairs])


def first_seed(pattern, run):
    """`pattern` for a run's first seed: the one whose figures the report shows."""
    return expand(pattern, run=run, seed=SEEDS[run][0])[0]


def training_cost(hp):
    """Rough work of a run (epochs x multiply-adds per image), in millions: the scheduler's priority,
    so the longest run starts first instead of finishing alone at the end."""
    sizes = [784, *hp["hidden"], 10]
    return hp["epochs"] * sum(a * b for a, b in zip(sizes, sizes[1:])) // 1_000_000


def run_figure(name, caption):
    """A per-run figure, marked for Snakemake's report with its caption."""
    return report(
        f"results/runs/{{run}}/{name}.png",
        caption=f"../report/{caption}.rst",
        category="Runs",
        subcategory="{run}",
        labels={"run": "{run}", "figure": name},
    )


def predict_images(folder):
    """The images in `folder`, sorted by name; braces escaped so Snakemake sees no wildcards."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".png", ".jpg", ".jpeg"))
                   and os.path.isfile(os.path.join(folder, n)))
    return [os.path.join(folder, n).replace("{", "{{").replace("}", "}}") for n in names]


def warn_failed_runs():
    """One WARNING line per failed run (e.g. diverged): the last thing the user reads."""
    paths = {f"{run} (seed {seed})": expand(rules.evaluate.output.metrics, run=run, seed=seed)[0]
             for run, seeds in SEEDS.items() for seed in seeds}
    for run, error, path in failed_runs(paths):
        print(f"WARNING: run {run} failed: {error} (see {path})", file=sys.stderr)
