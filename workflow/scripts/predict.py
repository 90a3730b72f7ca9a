"""Rule predict: classify every image of config `predict_dir` -> predictions.csv and a contact sheet.

A bad image gets a row with its error and a line in the log; only a bad model fails the job.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio  # noqa: E402
from nn.pipeline.architecture import check_belongs, input_scaling  # noqa: E402
from nn.predict import cli as predict  # noqa: E402


def printable(name):
    """A file name as text for the CSV, log and sheet: undecodable bytes as U+FFFD, line breaks as spaces."""
    return os.fsencode(name).decode("utf-8", "replace").replace("\n", " ").replace("\r", " ")


def main(log):
    inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    net = predict.load_model(inp.model)
    check_belongs(net, params.hp, inp.model, params.run)
    entries = list(params.names)  # the folder holds them directly: names are unique
    paths = [os.path.join(params.folder, n) for n in entries]  # inp.images and the rest, which get errors
    names = [printable(n) for n in entries]
    log(f"run {params.run}: classifying {len(paths)} images from {params.folder}")
    results = predict.classify(net, paths, scaling=input_scaling(params.hp))  # as the run's training inputs
    for r, name in zip(results, names):
        log(predict.result_line(r, name))
    fileio.write_text(out.csv, predict.to_csv(results, names))

    predict.write_sheet(
        out.sheet, results, names, f"{params.run} on {os.path.basename(os.path.normpath(params.folder))}/"
    )
    bad = [n for r, n in zip(results, names) if r.error is not None]
    log(f"{len(results) - len(bad)} classified, {len(bad)} could not be" + (f": {', '.join(bad)}" if bad else ""))


_common.run(main)
