"""A small numpy library for multilayer perceptrons on MNIST, written from scratch.

Modules, each one idea:
  idx       IDX file format (read/write, validated)
  download  fetch files from a list of mirrors, verified by checksum
  data      load/validate MNIST arrays, scale inputs
  fileio    atomic writes: nothing half-written is ever left at an output path
  init, layers, losses, model, optim, train   the network and how it learns
  distort, distort_plots                      training-time distortions (shift, affine, elastic), their figure
  gradcheck                                   finite-difference gradients, for the tests
  metrics, plots, report                      how a trained network is judged and shown
  config    validate config.yaml and expand it into one canonical hyperparameter dict per run
  sources   which nn files a rule's script imports (declared as its inputs)
  preprocess, predict   classify your own digit images
"""
