# MNIST from scratch: download -> decode -> sanity plots -> train (one job per run)
# -> evaluate (one job per run) -> report.  Run:  snakemake --cores 4
# Options every invocation gets are in profiles/default/config.yaml.
import os
import re
import sys
import tempfile

import yaml
from snakemake.utils import min_version

min_version("9.0")

# `nn` is the project's package; make it importable here even if not installed.
sys.path.insert(0, workflow.basedir)
from nn import config as nnconfig
from nn import fileio
from nn.sources import script_sources

# config.yaml, unless `--configfile` names another: that one then replaces it whole
# (Snakemake's default would merge the two, mixing both files' runs).
def check_yaml_syntax(path):
    """Exit with one line naming the file and line of a YAML syntax error (Snakemake's names neither).

    Only for config.yaml: a `--configfile` is parsed by Snakemake before this file runs.
    """
    try:
        with open(path, encoding="utf-8") as f:
            yaml.safe_load(f)
    except FileNotFoundError:
        return  # Snakemake's own message says which file is missing
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" ({e.context} at line {e.context_mark.line + 1})" if e.context and e.context_mark else ""
        sys.exit(f"Config error: {path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: "
                 f"{e.problem or e.context}{where}")
    except yaml.YAMLError as e:
        sys.exit(f"Config error: {path}: not valid YAML ({' '.join(str(e).split())})")


if not workflow.overwrite_configfiles:
    check_yaml_syntax(os.path.join(workflow.basedir, "config.yaml"))

    configfile: os.path.join(workflow.basedir, "config.yaml")


# One line naming the key path, before any job runs (see nn/config.py).
try:
    _, RUNS, SWEEPS = nnconfig.load(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))
except nnconfig.ConfigError as e:
    sys.exit(f"Config error: {e}")

SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")


def code(script):
    """The nn files (and the shared script helper) a rule's script imports: editing them reruns the rule."""
    return script_sources(os.path.join(SCRIPTS, f"{script}.py")) + [os.path.join(SCRIPTS, "_common.py")]


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"

# Cheap stages run on the submitting machine, also under a cluster executor.
localrules: all, download, report


rule all:
    default_target: True
    input:
        "results/report.html",
        "results/summary.csv",
        PREDICT_TARGETS,


def warn_failed_runs():
    """One WARNING line per run whose metrics say it failed: the last thing the user reads."""
    for run in RUNS:
        path = f"results/runs/{run}/metrics.json"
        try:
            metrics = fileio.read_json(path)
        except (OSError, ValueError):  # not evaluated (yet): nothing to say
            continue
        if isinstance(metrics, dict) and metrics.get("status") == "failed":
            print(f"WARNING: run {run} failed: {metrics.get('error')} (see {path})", file=sys.stderr)


onsuccess:
    warn_failed_runs()


onerror:
    warn_failed_runs()


def check_writable(top="results"):
    """Exit with one line if an output folder cannot be written (read-only, immutable, full
    quota); Snakemake's own failure, when it first clears an old output there, is a traceback."""
    for folder, _, _ in os.walk(top):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as e:
            sys.exit(f"Output folder {folder} is not writable ({e.strerror or e}); "
                     "make it writable and run again: nothing was changed")


onstart:
    check_writable()
