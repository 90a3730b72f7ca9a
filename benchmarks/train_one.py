"""Train one set of hyperparameters on the real MNIST and print what it reached: the tool
behind every "chosen on validation" figure in docs/performance.md.

    .venv/bin/python benchmarks/train_one.py NAME key=value ...  [--threads 1]

key=value pairs override the pipeline's defaults (YAML values: hidden=[128], lr=1,
batch_size=full). Prints one line: final test accuracy, peak monitored test accuracy,
final validation accuracy, first and last training cost, seconds. Reads ../shared/mnist.
Use the validation figure to choose; the test figures are printed only to be reported.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"


def main(argv):
    threads = "1"
    if "--threads" in argv:
        i = argv.index("--threads")
        threads, argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = threads  # before numpy loads
    import yaml

    sys.path.insert(0, str(REPO))
    from nn.pipeline import config as nnconfig
    from nn.mnist.data import decode_split, to_inputs
    from nn.pipeline.hparams import train_run

    name, pairs = argv[0], argv[1:]
    cfg = nnconfig.read(REPO / "config.yaml")
    cfg["runs"] = {name: {}}
    cfg["sweeps"], cfg["comparisons"] = {}, []
    for kv in pairs:
        key, value = kv.split("=", 1)
        cfg["runs"][name][key] = yaml.safe_load(value)
    cfg["runs"][name].setdefault("monitor_test", True)
    _, runs, _ = nnconfig.load(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")
    hp = nnconfig.seed_hparams(runs[name], runs[name]["seed"])
    train = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    test = decode_split(MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz")
    start = time.perf_counter()
    model, h, _ = train_run(hp, *train, log=lambda line: None, test=test if hp["monitor_test"] else None)
    _, (accuracy,) = model.evaluate(to_inputs(test[0], model.dtype), test[1])
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    print(
        name,
        f"test {accuracy:.4f}",
        f"peak test {fmt(max(h['test_accuracy']) if h.get('test_accuracy') else None)}",
        f"validation {fmt(h['val_accuracy'][-1] if h.get('val_accuracy') else None)}",
        f"cost {fmt(h['train_loss'][0] if h['train_loss'] else None)} "
        f"-> {fmt(h['train_loss'][-1] if h['train_loss'] else None)}",
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
