"""nn: a small numpy library for multilayer perceptrons, written from scratch to be read.

    from nn import Sequential, Linear, ReLU, Softmax, SGD, FitConfig, TrainState, fit
    model = Sequential([Linear(784, 128), ReLU(), Linear(128, 10), Softmax()])
    state = fit(model, SGD(model, lr=0.1, momentum=0.9), (x, labels), FitConfig(epochs=10, batch_size=128),
                TrainState(np.random.default_rng(0)))

The library (this folder's modules; numpy and themselves only):
  init, layers, losses     weights' first values; Linear and activations; losses (forward, backward)
  quirks                   what the sources did that a textbook would not, in the same registries
  model                    Sequential and mlp(): the passes, inference in bounded chunks
  optim                    SGD, Adam, RMSprop and learning-rate schedules (registries)
  train                    fit(), FitConfig, TrainState
  augment                  shifts, affine and elastic distortions of a batch
  metrics, stats           how good (accuracy, confusion), and how sure (intervals, McNemar)
  serialize, fileio        the model file (.npz, no pickle, bounded); atomic writes, bounded reads
  gradcheck                finite-difference gradients, for the tests
Beside it, each importing the library and never the other way round (docs/architecture.md):
  nn.mnist     the data: http, download, idx, data
  nn.report    figures, the HTML report, reproductions' verdicts, the recipe log
  nn.predict   your own digit images: page, preprocess, the nn-predict command
  nn.pipeline  config -> hyperparameters -> library calls; checkpoints; resources; provenance
"""

import importlib

# name -> the module that defines it; imported on first use, so `import nn` costs nothing
# and a rule's code hash (nn.pipeline.sources reads this table) covers only what it uses
API = {
    "Linear": "nn.layers",
    "ReLU": "nn.layers",
    "Sigmoid": "nn.layers",
    "Softmax": "nn.layers",
    "Tanh": "nn.layers",
    "Dropout": "nn.layers",
    "Sequential": "nn.model",
    "mlp": "nn.model",
    "SGD": "nn.optim",
    "Adam": "nn.optim",
    "RMSprop": "nn.optim",
    "fit": "nn.train",
    "FitConfig": "nn.train",
    "TrainState": "nn.train",
    "TrainingDiverged": "nn.train",
    "save": "nn.serialize",
    "load": "nn.serialize",
}

__all__ = sorted(API)


def __getattr__(name):
    if name in API:
        return getattr(importlib.import_module(API[name]), name)
    raise AttributeError(f"module 'nn' has no attribute {name!r}")
