"""A small numpy library for multilayer perceptrons on MNIST, written from scratch.

Modules, each one idea:
  idx       IDX file format (read/write, validated)
  download  fetch files from a list of mirrors, verified by checksum
  data      load/validate MNIST arrays, scale inputs
  fileio    atomic writes: nothing half-written is ever left at an output path
  layers, losses, model, optim, train   the network and how it learns
  metrics, plots, report                 how a trained network is judged and shown
  config    expand config.yaml into one canonical hyperparameter dict per run
  predict   classify your own digit images
"""
