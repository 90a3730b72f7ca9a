# Helpers shared by the rule files (Snakemake's lint wants functions apart from rules).
import subprocess

from snakemake.exceptions import WorkflowError
from snakemake.io import contains_wildcard

from nn.pipeline import blocks as nnblocks
from nn.pipeline import resources as nnresources
from nn.report import recipes as nnrecipes
from nn.report.html import failed_runs
from nn.pipeline.sources import PACKAGE_DIR, code_fingerprint

# Beside the nn package in use (the Snakefile puts its own checkout first on sys.path).
SCRIPTS = os.path.join(PACKAGE_DIR.parent, "workflow", "scripts")


def code(script):
    """A `params:` value: the content hash of every nn file (and the shared script helper) a rule's
    script imports, by path relative to the project. Editing one reruns exactly the rules that import
    it; moving or copying the project, or `--directory`, changes nothing (see nn/pipeline/sources.py)."""
    return code_fingerprint(os.path.join(SCRIPTS, f"{script}.py"), os.path.join(SCRIPTS, "_common.py"))


def sigint_blocked_prefix():
    """The shell prefix that starts a job's command with SIGINT blocked, or None where `env` cannot.

    A job's Python first runs Snakemake's preamble (it unpickles the `snakemake` object, importing
    snakemake): a Ctrl-C there would print a KeyboardInterrupt traceback that no code of ours can
    catch. Blocked, the signal waits, pending, until workflow/scripts/_common.py has installed its
    handler and unblocks it (about 0.1 s later): one line, no traceback. GNU env (coreutils 8.31 or
    later) has --block-signal; elsewhere jobs start without it and only that window is unguarded."""
    try:
        ok = subprocess.run(["env", "--block-signal=INT", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        return None
    bash = os.path.basename(shell.get_executable() or "") == "bash"
    return ("set -euo pipefail; " if bash else "") + "env --block-signal=INT "  # Snakemake's own prefix, then ours


SIGINT_BLOCKED = sigint_blocked_prefix()
if SIGINT_BLOCKED:
    shell.prefix(SIGINT_BLOCKED)


# Every trained run's seeds (config `replicates`; a row scored_from another run trains nothing and
# has none here), the McNemar pairs, and the decoded test set.
SEEDS = {run: nnconfig.seeds(hp) for run, hp in nnconfig.trained(RUNS).items()}
COMPARISONS = nnconfig.comparisons(config, RUNS)
TEST_DATA = ["results/data/test-images.npy", "results/data/test-labels.npy"]
TRAIN_DATA = ["results/data/train-images.npy", "results/data/train-labels.npy"]
RUN_PATTERN = "|".join(map(re.escape, RUNS))
# The runs that have per-seed files of their own to evaluate and draw (not the scored_from rows).
TRAINED_PATTERN = "|".join(map(re.escape, SEEDS))


# The trained runs whose reference publishes training costs: each seed's cost after its last round
# (rule training_cost), beside the published ones in the ledger.
COSTED = [run for run in SEEDS if (RUNS[run].get("reference") or {}).get("costs")]
COSTED_PATTERN = "|".join(map(re.escape, COSTED)) or "(?!x)x"  # none: a pattern that matches nothing


def per_seed(pattern, first_only=False, runs=None):
    """`pattern` (with {run} and {seed}) for every trained run (or those in `runs`) and each of its
    seeds, runs in config order."""
    pairs = [
        (run, seed)
        for run, seeds in SEEDS.items()
        if runs is None or run in runs
        for seed in (seeds[:1] if first_only else seeds)
    ]
    return expand(pattern, zip, run=[r for r, _ in pairs], seed=[s for _, s in pairs])


def first_seed(pattern, run):
    """`pattern` for a run's first seed: the one whose figures the report shows."""
    return expand(pattern, run=run, seed=SEEDS[run][0])[0]


def training_threads(wildcards):
    """The cores a training job claims from --cores (nn.pipeline.resources.training_claim): its BLAS
    threads, or more on a local run whose --cores exceeds the CPUs, so that two trainings,
    not four, share a 2-CPU machine under `--cores 4`. Cluster jobs claim their BLAS threads."""
    blas = RUNS[wildcards.run]["threads"]
    if not workflow.local_exec:
        return blas
    try:
        cores = workflow.cores
    except WorkflowError:  # no --cores (a dry run, say)
        return blas
    return nnresources.training_claim(blas, cores, nnresources.usable_cpus())


def run_figure(name, caption):
    """A per-run figure, marked for Snakemake's report with its caption."""
    return report(
        f"results/runs/{{run}}/{name}.png",
        caption=f"../report/{caption}.rst",
        category="Runs",
        subcategory="{run}",
        labels={"run": "{run}", "figure": name},
    )


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def predict_entries(folder):
    """Every name in `folder` with an image suffix that is not a folder, sorted: each gets a CSV row."""
    return sorted(
        n
        for n in os.listdir(folder)
        if n.lower().endswith(IMAGE_SUFFIXES) and not os.path.isdir(os.path.join(folder, n))
    )


def predict_images(folder):
    """An input function: the regular files among predict_entries that Snakemake can name.

    Snakemake reads `{word}` in any input path as a wildcard, escaped or not (`{run}.png` would stop
    the DAG with a WildcardError), writes input paths one a line into its lock file (a line break
    in a name), in UTF-8 (a name that is not); a FIFO or a dangling link is no file to track. Those
    are left out here, still classified (each gets its row, an error for what is not a file), and
    a change to any of them still reruns the rule through predict_signature.
    """

    def nameable(path):
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:  # os.listdir's stand-ins for undecodable bytes
            return False
        return not contains_wildcard(path) and "\n" not in path and "\r" not in path

    def images(wildcards):
        paths = (os.path.join(folder, n) for n in predict_entries(folder))
        return [p for p in paths if os.path.isfile(p) and nameable(p)]

    return images


def predict_signature(folder):
    """A params function: (name, size, mtime) of every entry, so that editing, adding or removing any
    of them (those predict_images leaves out too) reruns the rule."""

    def signature(wildcards):
        out = []
        for n in predict_entries(folder):
            try:
                st = os.stat(os.path.join(folder, n))
                out.append((ascii(n), st.st_size, st.st_mtime_ns))
            except OSError:  # a dangling link: its row says "no such file"
                out.append((ascii(n), None, None))
        return out

    return signature


def warn_failed_runs():
    """One WARNING line per failed run (e.g. diverged): the last thing the user reads."""
    paths = {
        f"{run} (seed {seed})": expand(rules.evaluate.output.metrics, run=run, seed=seed)[0]
        for run, seeds in SEEDS.items()
        for seed in seeds
    }
    for run, error, path in failed_runs(paths):
        print(f"WARNING: run {run} failed: {error} (see {path})", file=sys.stderr)


# ---- the report (workflow/rules/report.smk): what it reads

# The config as run, without the keys that only say where data came from or what to
# predict: switching mirrors must not rebuild the report.
# Mirror credentials (https://user:pass@host/) are replaced by ***.
REPORT_CONFIG = nnconfig.redacted(
    {k: v for k, v in config.items() if k not in ("mnist_mirror", "predict_dir", "predict_run")}
)
# Runs whose reference publishes a per-epoch curve: one overlay figure each.
CURVE_RUNS = [run for run, hp in RUNS.items() if (hp.get("reference") or {}).get("curves")]


def report_inputs(first_only):
    """The report's inputs for every trained run and seed (or each run's first seed). A row scored_from
    another run reads that run's histories, which are among them: its seeds are the other's."""
    return dict(
        metrics=per_seed(rules.evaluate.output.metrics, first_only),
        predictions=per_seed(rules.evaluate.output.predictions, first_only),
        histories=per_seed(TRAINED["history"], first_only),
        timings=per_seed(TRAINED["timings"], first_only),
        train_costs=per_seed(rules.training_cost.output.cost, first_only, COSTED),
        figures=expand(rules.plot_run.output.curves, run=SEEDS),
        test_labels=TEST_DATA[1],
        first_ten=rules.plot_data.output.first_ten,
        class_means=rules.plot_data.output.class_means,
        label_histogram=rules.plot_data.output.label_histogram,
    )


def recipe_log():
    """benchmarks/recipes.jsonl's records (what was tried for `best`), read beside the nn package in
    use. A param, not an input: its content, not its path, decides whether the report reruns, so a
    moved project or `--directory` elsewhere still finds it and reruns nothing. No log (a copy of
    the workflow without benchmarks/): the report's figure says so."""
    path = os.path.join(PACKAGE_DIR.parent, "benchmarks", "recipes.jsonl")
    try:
        return {f"{i}": record for i, record in enumerate(nnrecipes.load(path))}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        sys.exit(f"Recipe log error: {e}")


RECIPES = recipe_log()


def report_params(first_only):
    """Everything the report reads from config; seeds of every run, scored_from rows included, in config
    order (the trained runs' in the order of the per_seed() inputs)."""
    seeds = {run: nnconfig.seeds(hp) for run, hp in RUNS.items()}
    return dict(
        code=code("report"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        seeds={run: s[:1] if first_only else s for run, s in seeds.items()},
        runs=RUNS,
        sweeps=SWEEPS,
        comparisons={f"{a} vs {b}": [a, b] for a, b in COMPARISONS},
        curve_runs=CURVE_RUNS,
        config=REPORT_CONFIG,
        checksums=config["download"]["sha256"],
        recipes=RECIPES,
    )
