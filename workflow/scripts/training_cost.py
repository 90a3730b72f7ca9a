"""Rule training_cost: one seed's training cost after its last round, for a reference that publishes
training costs -> train-cost.json {"train_loss", "train_loss_sd", "least_cost", "n_images"}.

train_loss: the run's own loss (the source's sum and factor) on the images it trained on, with the
final weights, as a source prints its cost after a round's update; train_loss_sd: the spread of the
images' costs around it, from which the ledger takes the sampling error of a cost measured on them.
least_cost: the least that loss can reach on those images' labels within the output activation's
range (nn.losses.least_cost): a published cost below it cannot come from this protocol. A run whose training failed gets
{"status": "failed", ...}; the job succeeds and the report says why.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio, serialize  # noqa: E402
from nn.losses import least_cost, one_hot  # noqa: E402
from nn.mnist import data  # noqa: E402
from nn.pipeline.architecture import check_belongs, network_inputs  # noqa: E402


def main(log):
    inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
    hp = snakemake.params.hp  # noqa: F821
    history = fileio.read_json(inp.history)
    if isinstance(history, dict) and history.get("status") == "failed":
        log(f"run {wc.run} (seed {wc.seed}): no training cost, training failed")
        fileio.write_json(out.cost, {"status": "failed", "error": str(history.get("error"))})
        return
    net = serialize.load(inp.model)
    check_belongs(net, hp, inp.model, wc.run)
    images, labels = data.load_arrays(inp.train_images, inp.train_labels)
    n = len(labels) - hp["validation"]  # the images it trained on
    x = network_inputs(hp, images[:n], net.dtype)  # (n, 784), scaled as in training
    _, (per_image,) = net.outputs_and_losses(x, labels[:n])  # (n,): each image's cost
    loss, spread = float(per_image.mean()), float(per_image.std(ddof=1)) if n > 1 else 0.0
    floor = least_cost(net.loss, one_hot(labels[:n], net.n_out, net.dtype), net.layers[-1].bounds)
    fileio.write_json(out.cost, {"train_loss": loss, "train_loss_sd": spread, "least_cost": floor, "n_images": int(n)})
    log(
        f"run {wc.run} (seed {wc.seed}): training cost {loss:.6g} on {n} images after the last round "
        f"(the least this loss can reach there: {floor:.6g})"
    )


_common.run(main)
