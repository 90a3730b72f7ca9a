"""Rule download: fetch one MNIST .gz from the configured mirrors, verified by checksum.

The mirrors and network limits come from the config, not params, so that changing a
mirror reruns nothing (see workflow/rules/data.smk); `mnist_mirror`, if set, is tried first.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn.pipeline.mirrors import mirrors  # noqa: E402
from nn.mnist.download import fetch  # noqa: E402


def main(log):
    config = snakemake.config  # noqa: F821 (injected by Snakemake)
    download = config["download"]
    limits = {k: download[k] for k in ("timeout", "retries", "max_bytes") if k in download}
    dest = snakemake.output[0]  # noqa: F821
    fetch(os.path.basename(dest), mirrors(config), snakemake.params.sha256, dest, log=log, **limits)  # noqa: F821


_common.run(main)
