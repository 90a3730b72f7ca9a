# Where the Slurm executor plugin is installed (requirements-slurm.lock), Snakemake loads it on
# every call, and the plugin asks Slurm for its settings (`scontrol show config`). Where Slurm is
# installed but its controller is down, that waits out Slurm's MessageTimeout (10 s by default)
# with no word. Here Slurm is asked once more, with `scontrol ping`, which answers at once:
# a local run gets one line saying why it waited; a Slurm run (--profile profiles/slurm) stops
# in one line before submitting anything to a controller that is not there.
from nn.pipeline import environment as nnenvironment

SLURM_CONTROLLER = nnenvironment.slurm_controller() if workflow.is_main_process else None
if SLURM_CONTROLLER and SLURM_CONTROLLER[0] == "down":
    print(
        f"Note: Slurm's controller is down ({SLURM_CONTROLLER[1]}): the Slurm executor plugin waits about "
        "10 s for it whenever Snakemake starts; local runs are not otherwise affected (docs/cluster.md).",
        file=sys.stderr,
    )


def stop_if_slurm_is_not_there():
    """For onstart: a run on the Slurm executor stops in one line if Slurm's controller does not answer."""
    if workflow.executor_plugin.name == "slurm" and SLURM_CONTROLLER and SLURM_CONTROLLER[0] != "up":
        sys.exit(
            f"Slurm's controller does not answer ({SLURM_CONTROLLER[1]}); nothing was submitted. "
            "Start it, or run without --profile profiles/slurm (docs/cluster.md)."
        )
