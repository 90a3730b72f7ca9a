"""The pipeline's side of nn: config.yaml -> one hyperparameter dict per run -> library calls.

config (validate, expand), hparams (the one place that reads a run's `hp`), checkpoint (epoch
checkpoints tied to what made them), resources (memory and cores), environment (the lock and
the versions that ran), sources (which nn files a rule's script imports), folders (the output
folders checked before any job).
"""
