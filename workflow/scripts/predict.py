"""Rule predict: classify every image of config `predict_dir` -> predictions.csv and a contact sheet.

A bad image gets a row with its error and a line in the log; only a bad model fails the job.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio, plots, predict  # noqa: E402

MAX_SHEET = 120  # images on the contact sheet; the CSV has them all


def main(log):
    inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    net = predict.load_model(inp.model)
    paths = list(inp.images)
    names = [os.path.basename(p) for p in paths]   # the folder holds them directly: names are unique
    log(f"run {params.run}: classifying {len(paths)} images from {params.folder}")
    results = predict.classify(net, paths)
    for r, name in zip(results, names):
        log(predict.describe(r, name))
    fileio.write_text(out.csv, predict.to_csv(results, names))

    shown = results[:MAX_SHEET]
    title = f"{params.run} on {os.path.basename(os.path.normpath(params.folder))}/"
    if len(results) > len(shown):
        title += f" (the first {len(shown)} of {len(results)} images)"
    plots.contact_sheet(out.sheet, [r.thumb for r in shown], [r.digit for r in shown],
                        [predict.caption(r, n) for r, n in zip(shown, names)],
                        [r.error is not None for r in shown], title)
    bad = [n for r, n in zip(results, names) if r.error is not None]
    log(f"{len(results) - len(bad)} classified, {len(bad)} could not be" + (f": {', '.join(bad)}" if bad else ""))


_common.run(main)
