"""A model: a list of layers run in order, the loss it is trained with, and its file format.

Two ways to build one:
    Sequential([Linear(784, 30), ReLU(), Linear(30, 10), Sigmoid()])      # the blog's form
    mlp([784, 30, 10], activation="relu", output="sigmoid", rng=seed)     # the seeds' form

A model file is one .npz: an `architecture` entry (JSON bytes) and one array per
parameter ("0.W", "0.b", "2.W", ...). No pickle anywhere; load() checks every name, shape
and dtype against the architecture and says which one is wrong.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from nn.fileio import atomic_path, npy_header, open_regular
from nn.limits import array_bound
from nn.layers import ACTIVATIONS, LAYERS, Dropout, Linear
from nn.losses import get_loss, one_hot

FORMAT = "nn-sequential"
VERSION = 1
CHUNK = 4096  # rows per forward pass at inference: bounded memory for any n
NPY_HEADER_ROOM = 1 << 16  # a .npy header is at most 64 kB (numpy pads it to 64 bytes, caps it at 10 kB to read)


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, or does not describe a valid model."""


class Sequential:
    def __init__(self, layers, loss: str | None = None):
        """loss: "quadratic" or "cross_entropy"; None picks cross_entropy after a softmax, else quadratic."""
        self.layers = list(layers)
        linears = [l for l in self.layers if isinstance(l, Linear)]
        if not linears:
            raise ValueError("Sequential: needs at least one Linear layer")
        for a, b in zip(linears, linears[1:]):
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"Sequential: {a!r} feeds {a.shape[1]} values into {b!r}, which takes {b.shape[0]}")
        self.n_in, self.n_out = linears[0].shape[0], linears[-1].shape[1]
        self.dtype = linears[0].params["W"].dtype
        if any(l.params["W"].dtype != self.dtype for l in linears):
            raise ValueError(f"Sequential: Linear layers mix dtypes; make them all {self.dtype}")
        last = self.layers[-1]
        self.output = type(last).__name__.lower() if type(last) in ACTIVATIONS.values() else None
        self.loss = get_loss(loss or ("cross_entropy" if self.output == "softmax" else "quadratic"), self.output)
        # a fused loss takes the logits, so training skips the last layer's forward and backward
        self.body = self.layers[:-1] if self.loss.fuses else self.layers
        self.flat_params, self.flat_grads = self._flatten()

    def _flatten(self):
        """Move every parameter, and its grad, into one contiguous array; the layers keep views
        into it. An optimiser then updates the whole model in a few numpy calls, not a few per
        array (per-call overhead is what small batches pay for). The model owns its layers'
        arrays from here on: do not put the same layer object into two models."""
        arrays = [(layer, key) for layer in self.layers for key in layer.params]
        total = sum(layer.params[key].size for layer, key in arrays)
        flat_params, flat_grads = np.empty(total, self.dtype), np.zeros(total, self.dtype)
        start = 0
        for layer, key in arrays:
            p = layer.params[key]
            end = start + p.size
            layer.params[key] = flat_params[start:end].reshape(p.shape)
            layer.params[key][...] = p
            layer.grads[key] = flat_grads[start:end].reshape(p.shape)
            start = end
        return flat_params, flat_grads

    def __repr__(self):
        return f"Sequential([{', '.join(map(repr, self.layers))}], loss={self.loss.name!r})"

    # --- the passes -------------------------------------------------------------------------

    def _run(self, layers, x):
        for layer in layers:
            x = layer.forward(x)
        return x

    def forward(self, x):
        """(batch, n_in) -> (batch, n_out) output activations; a layer buffer, see nn.layers."""
        return self._run(self.layers, self._check_inputs(x))

    def backprop(self, x, y):
        """One forward and backward pass on a batch: fills every layer's grads.

        x (batch, n_in) inputs, y (batch, n_out) targets. Returns (mean loss, scores), scores
        being the logits under a fused loss and the outputs otherwise: same argmax either way.
        """
        scores = self._run(self.body, x)
        loss, grad = self.loss.value_and_grad(scores, y)
        for i in range(len(self.body) - 1, -1, -1):
            grad = self.body[i].backward(grad, need_input_grad=i > 0)
        return loss, scores

    def train(self, rng=None) -> None:
        """Training mode: Dropout layers drop, drawing their masks from the Generator rng (needed if any).
        fit() switches it on for its training batches only."""
        for layer in self.layers:
            layer.set_mode(True, rng)

    def eval(self) -> None:
        """Evaluation mode (the default): every layer deterministic, Dropout the identity."""
        for layer in self.layers:
            layer.set_mode(False)

    def parameters(self):
        """(name, array, grad, is_weight) for every trainable array, in a fixed order."""
        for i, layer in enumerate(self.layers):
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, layer.grads[key], key == "W"

    def get_weights(self) -> dict:
        return {name: p.copy() for name, p, _, _ in self.parameters()}

    def set_weights(self, weights: dict) -> None:
        for name, p, _, _ in self.parameters():
            p[...] = weights[name]

    # --- inference --------------------------------------------------------------------------

    def _check_inputs(self, x):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"model input: expected shape (n, {self.n_in}), got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def _chunked(self, layers, x):
        x = self._check_inputs(x)
        out = np.empty((len(x), self.n_out), self.dtype)
        for start in range(0, len(x), CHUNK):
            out[start:start + CHUNK] = self._run(layers, x[start:start + CHUNK])
        return out

    def predict_proba(self, x):
        """(n, n_in) -> (n, n_out): softmax probabilities or sigmoid activations."""
        return self._chunked(self.layers, x)

    def predict(self, x):
        """(n, n_in) -> (n,) int64 predicted classes."""
        return self._chunked(self.body, x).argmax(axis=1).astype(np.int64)

    def sample_losses(self, x, labels):
        """(n,) loss of each image under the model's own training loss."""
        return self.loss.per_sample(self._chunked(self.body, x), one_hot(labels, self.n_out, self.dtype))

    def outputs_and_losses(self, x, labels):
        """(predict_proba(x), sample_losses(x, labels)) from one forward pass: what evaluation needs."""
        scores = self._chunked(self.body, x)                                   # (n, n_out)
        losses = self.loss.per_sample(scores, one_hot(labels, self.n_out, self.dtype))
        tail = self.layers[len(self.body):]                                    # the fused output layer, if any
        return (self._run(tail, scores).copy() if tail else scores), losses

    def evaluate(self, x, labels):
        """(mean loss, accuracy) on inputs x (n, n_in) and integer labels (n,), in one pass."""
        scores = self._chunked(self.body, x)
        losses = self.loss.per_sample(scores, one_hot(labels, self.n_out, self.dtype))
        return float(losses.mean()), float(np.mean(scores.argmax(axis=1) == labels))

    # --- description ------------------------------------------------------------------------

    def architecture(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "layers": [l.spec() for l in self.layers],
                "loss": self.loss.name, "output": self.output, "dtype": self.dtype.name}


def mlp(sizes, activation="sigmoid", output="sigmoid", loss=None, init="normal", rng=None, dtype=np.float32,
        dropout=0.0):
    """Layer sizes [784, 30, 10] -> Linear, activation, ..., Linear, output activation.

    rng: a numpy Generator or an int seed (None = 0), shared by all layers in order.
    dropout: a rate for every hidden layer, or a list of one rate per hidden layer; a
    Dropout layer follows each hidden activation whose rate is > 0 (none for rate 0, so a
    model without dropout is exactly the model it always was).
    """
    if len(sizes) < 2 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"mlp: sizes must be at least two positive integers, got {sizes!r}")
    for name in (activation, output):
        if name not in ACTIVATIONS:
            raise ValueError(f"mlp: unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    n_hidden = len(sizes) - 2
    rates = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * n_hidden
    if len(rates) != n_hidden:
        raise ValueError(f"mlp: dropout lists {len(rates)} rates for {n_hidden} hidden layers")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
        layers.append(ACTIVATIONS[output if i == n_hidden else activation]())
        if i < n_hidden and rates[i]:
            layers.append(Dropout(rates[i]))
    return Sequential(layers, loss=loss)


# --- the file ---------------------------------------------------------------------------------

def save(model: Sequential, path) -> None:
    """Write the model as one .npz, byte-identical for identical weights (fixed zip timestamps)."""
    arrays = {"architecture": _json_array(model.architecture())}
    arrays.update((name, p) for name, p, _, _ in model.parameters())
    _write_npz(path, arrays)


def save_failed(path, reason: str) -> None:
    """A model file for a run that produced no usable model (e.g. it diverged): no weights,
    only the reason, which load() raises. Downstream rules find their input, and refuse it."""
    _write_npz(path, {"architecture": _json_array({"format": FORMAT, "version": VERSION, "failed": str(reason)})})


def _json_array(obj):
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), np.uint8)


def _write_npz(path, arrays) -> None:
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


MAX_ARCHITECTURE_BYTES = 1 << 20  # the architecture entry of a 10-layer model is under 2 kB


def load(path) -> Sequential:
    """Read a model written by save(); ModelFileError names the file and what is wrong.

    Nothing is allocated from a size the file states before it is checked: the architecture
    entry is at most 1 MB, the parameters it declares fit the bound (nn.limits.array_bound),
    and each weight entry, before it is read, declares no more bytes than its layer needs, so a
    deflate bomb or a header claiming terabytes is refused in one line."""
    try:
        # our own handle: np.load leaks the one it opens when the zip is corrupt
        with open_regular(path) as fh:
            # np.load calls anything that is neither zip nor .npy "pickled data": say what it is
            magic = fh.read(6)
            if magic == b"\x93NUMPY":
                raise ModelFileError(f"{path}: holds a single array (.npy), not a model .npz")
            if not magic.startswith(b"PK\x03\x04"):
                raise ModelFileError(f"{path}: not a readable model .npz (not a zip archive)")
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                return _read_model(zf, path)
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        if str(e).startswith(f"{path}: "):  # already names the file (open_regular: a FIFO, a device)
            raise ModelFileError(str(e)) from None
        raise ModelFileError(f"{path}: not a readable model .npz ({e})") from None


def _member(zf, info, path, max_bytes):
    """One .npy entry of the archive, its sizes checked (zip header, then .npy header) before reading."""
    if info.file_size > max_bytes:
        raise ModelFileError(f"{path}: entry {info.filename!r} declares {info.file_size} bytes, "
                             f"over the {max_bytes} its place allows; refusing")
    with zf.open(info) as f:
        data = f.read(max_bytes + 1)  # zipfile also stops at the declared size
    buf = io.BytesIO(data)
    try:
        npy_header(buf, f"{path}: entry {info.filename!r}", len(data), max_bytes)
    except ValueError as e:
        raise ModelFileError(str(e)) from None
    buf.seek(0)
    return np.lib.format.read_array(buf, allow_pickle=False)


def _parameter_bytes(arch: dict) -> int:
    """Bytes of every weight and bias the architecture declares (Python ints: no overflow)."""
    item = np.dtype(arch["dtype"]).itemsize
    return item * sum(int(l["n_in"]) * int(l["n_out"]) + int(l["n_out"]) for l in arch["layers"] if l["type"] == "linear")


def _read_model(zf, path) -> Sequential:
    members = {info.filename.removesuffix(".npy"): info for info in zf.infolist()}
    if "architecture" not in members:
        raise ModelFileError(f"{path}: no 'architecture' entry; not a model file")
    raw = _member(zf, members.pop("architecture"), path, MAX_ARCHITECTURE_BYTES)
    try:
        arch = json.loads(raw.tobytes())
        failed = arch.get("failed") if isinstance(arch, dict) else None
        model = None if failed is not None else _build(arch)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{path}: invalid architecture ({e})") from None
    if failed is not None:
        raise ModelFileError(f"{path}: the run produced no usable model ({failed})")
    expected = {name: p for name, p, _, _ in model.parameters()}
    for name in sorted(set(members) - set(expected)):
        raise ModelFileError(f"{path}: unexpected array {name!r} for this architecture")
    for name, p in expected.items():
        if name not in members:
            raise ModelFileError(f"{path}: missing array {name!r}")
        a = _member(zf, members[name], path, p.nbytes + NPY_HEADER_ROOM)
        if a.shape != p.shape or a.dtype != p.dtype:
            raise ModelFileError(f"{path}: array {name!r} is {a.dtype}{list(a.shape)}, "
                                 f"the architecture says {p.dtype}{list(p.shape)}")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: array {name!r} holds NaN or infinite values")
        p[...] = a
    return model


def _build(arch: dict) -> Sequential:
    """An architecture dict -> a model with zero weights, ready to receive the saved ones."""
    if arch.get("format") != FORMAT or arch.get("version") != VERSION:
        raise ValueError(f"format {arch.get('format')!r} version {arch.get('version')!r}, "
                         f"expected {FORMAT!r} version {VERSION}")
    if arch["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype {arch['dtype']!r}, expected float32 or float64")
    if _parameter_bytes(arch) > array_bound():  # before a single layer is allocated
        raise ValueError(f"it declares {_parameter_bytes(arch)} bytes of parameters, over the bound of "
                         f"{array_bound()} (half this machine's memory)")
    layers = []
    for spec in arch["layers"]:
        if spec["type"] not in LAYERS:
            raise ValueError(f"unknown layer type {spec['type']!r}")
        layers.append(LAYERS[spec["type"]].from_spec(spec, arch["dtype"]))
    model = Sequential(layers, loss=arch["loss"])
    if model.output != arch["output"]:
        raise ValueError(f"output {arch['output']!r} does not match the last layer ({model.output!r})")
    return model


def _layers_in_words(arch: dict) -> str:
    """'Linear(784->16) ReLU Linear(16->10) Softmax, cross_entropy, float32': what differs, readable."""
    parts = []
    for spec in arch["layers"]:
        if spec["type"] == "linear":
            parts.append(f"Linear({spec['n_in']}->{spec['n_out']})")
        else:
            parts.append(spec["type"] + (f"({spec['rate']})" if "rate" in spec else ""))
    return f"{' '.join(parts)}, {arch['loss']}, {arch['dtype']}"


def check_belongs(model: Sequential, hp: dict, path, run: str) -> None:
    """ModelFileError unless `model` has the architecture that the run's hyperparameters
    describe (sizes, activations, dropout, loss, dtype): a model file copied in from another
    run must not be reported under this one's name."""
    expected = mlp([model.n_in, *hp["hidden"], 10], activation=hp["activation"], output=hp["output"],
                   loss=hp["loss"], init=None, dtype=hp["dtype"], dropout=hp.get("dropout", 0.0)).architecture()
    found = model.architecture()
    if found != expected:
        raise ModelFileError(f"{path}: this model is {_layers_in_words(found)}, but run {run}'s hyperparameters "
                             f"describe {_layers_in_words(expected)}; it belongs to another run (retrain with "
                             f"snakemake --forcerun train)")
