# MNIST from scratch: download -> decode -> sanity plots -> train (one job per run)
# -> evaluate (one job per run) -> report.  Run:  snakemake --cores 4
# Options every invocation gets are in profiles/default/config.yaml.
import os
import re
import sys
from snakemake.utils import min_version

min_version("9.0")

# `nn` is the project's package; make it importable here even if not installed.
sys.path.insert(0, workflow.basedir)
from nn.pipeline import config as nnconfig
from nn.pipeline import folders as nnfolders

# config.yaml, unless `--configfile` names another: that one then replaces it whole
# (Snakemake's default would merge the two, mixing both files' runs). A --configfile is
# parsed by Snakemake before this file runs: our check (syntax with file and line, a key
# written twice) then only adds the duplicate keys, which Snakemake drops silently.
try:
    for _file in workflow.overwrite_configfiles or [os.path.join(workflow.basedir, "config.yaml")]:
        nnconfig.check_yaml_syntax(_file)
except nnconfig.ConfigError as e:
    sys.exit(f"Config error: {e}")

if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


# One line naming the key path (and the source file of a reproduction's row), before any job runs
# (nn/pipeline/config.py). The `reproductions` folder is relative to the config file.
try:
    _, RUNS, SWEEPS = nnconfig.load(
        config,
        os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"),
        os.path.dirname(
            os.path.abspath((workflow.overwrite_configfiles or [os.path.join(workflow.basedir, "config.yaml")])[0])
        ),
    )
    nnconfig.check_memory(RUNS)
except nnconfig.ConfigError as e:
    sys.exit(f"Config error: {e}")

# A file where an output folder belongs: one line here (Snakemake's own failure, while it
# builds the DAG, is a traceback, and comes before onstart).
try:
    nnfolders.check_folders(
        [
            "results/raw",
            "results/data/plots",
            "results/logs",
            "results/report",
            "results/benchmarks",
            *(f"results/runs/{run}" for run in RUNS),
        ]
    )
except OSError as e:
    sys.exit(e.strerror)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/slurm.smk"


# Cheap stages run on the submitting machine, also under a cluster executor.
localrules:
    all,
    download,
    report,
    quick,


rule all:
    default_target: True
    input:
        "results/report.html",
        "results/summary.csv",
        PREDICT_TARGETS,


onsuccess:
    warn_failed_runs()


onerror:
    warn_failed_runs()


onstart:
    stop_if_slurm_is_not_there()
    # One line, before any job, if an output folder is read-only (Snakemake's own failure is a traceback).
    try:
        nnfolders.check_writable("results")
    except OSError as e:
        sys.exit(e.strerror)
