"""A small numpy library for multilayer perceptrons on MNIST, written from scratch.

Modules, each one idea:
  idx       IDX file format (read/write, validated)
  download  fetch files from a list of mirrors, verified by checksum
  data      load/validate MNIST arrays, scale inputs
  fileio    atomic writes: nothing half-written is ever left at an output path
  init, layers, losses, model, optim, train   the network and how it learns
  distort, distort_plots                      training-time distortions (shift, affine, elastic), their figure
  gradcheck                                   finite-difference gradients, for the tests
  checkpoint                                  epoch checkpoints: a killed run resumes with the same bits
  metrics, plots, report                      how a trained network is judged and shown
  stats, reproduction, plots_published        seeds' statistics, verdicts against published figures,
                                              McNemar's test, the published curves over ours
  recipes   the log of recipes tried for `best` (benchmarks/recipes.jsonl) and its frontier
  config    validate config.yaml and expand it into one canonical hyperparameter dict per run
  sources   which nn files a rule's script imports (their content hashes are the rules' `code` params)
  http, limits, environment   bounded downloads, size bounds, the lock file against what is imported
  preprocess, page, predict   classify your own digit images (page: find the digit on a real page)
"""
