"""Pinned numerics: the same result bytes on any x86-64 machine with AVX2/FMA.

Two libraries pick their code by the CPU they run on, and their choices change the bytes:
- numpy 2.4 compiles some loops several times (dispatch targets X86_V3 = AVX2/FMA, X86_V4 and
  AVX512_ICL / AVX512_SPR = AVX-512) and runs the best the CPU has. NPY_DISABLE_CPU_FEATURES
  names targets it must not use; numpy reads it once, when it is imported.
- OpenBLAS (numpy's BLAS, the scipy-openblas build) picks a kernel by CPU (SkylakeX on an
  AVX-512 machine, Haswell on an AVX2 one, ...) unless OPENBLAS_CORETYPE names one; it reads it
  once, when numpy loads it.

So `pin("pinned")` must run before numpy is imported, and this module does not import numpy
at module level. After the import, `honoured()` says whether the pin took effect here, and
`provenance()` records what ran, with `fingerprint()`: a hash of a small fixed computation
done with the same operations as training, equal on two machines only if their numerics are.

    from nn.pipeline import numerics
    numerics.pin("pinned")           # before `import numpy`
    import numpy as np
    why = numerics.honoured()        # None, or one line: why the bytes will not be the reference's

Names: numpy 2.4's targets are in numpy._core._multiarray_umath.__cpu_dispatch__. It warns
(ImportWarning, an ImportError under -W error) on a name that is not one of them, such as
the pre-2.4 name AVX512F, and ignores it; it refuses to import at all if told to disable a
baseline target (X86_V2). X86_V4 alone leaves AVX512_ICL on, so all three AVX-512 targets
are named. Disabling AVX512_SPR on a CPU without it is silent.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import platform
import sys

PINNED = {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
MODES = ("pinned", "native")
# numpy's one dispatch target and OpenBLAS's kernel that the reference bytes are made with
REFERENCE_TARGET = "X86_V3"
REFERENCE_KERNEL = "Haswell"
# read into provenance beside the pin: they change the bytes too (threads), or may (L2 size, below)
RELATED = ("OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NPY_ENABLE_CPU_FEATURES")


class Applied(dict):
    """{variable: value set, or None where it was removed}; `warning` is None or one line
    saying why the settings cannot take effect in this process."""

    warning: str | None = None


def pin(mode: str, environ=os.environ) -> Applied:
    """Set the numerics of processes started with `environ` (by default this one's environment).

    "pinned": OPENBLAS_CORETYPE=Haswell and numpy capped at X86_V3 (AVX2/FMA), overriding
    whatever the caller had. "native": both variables removed, so numpy and OpenBLAS pick the
    fastest code for the CPU (an inherited OPENBLAS_CORETYPE would otherwise still pin the kernel).

    OPENBLAS_L2_SIZE is left alone in both modes: it is not a kernel choice but a correction
    of the cache size OpenBLAS reads from CPUID (virtual machines misreport it; it is also the
    known guard against OpenBLAS 0.3.34's blocking override on Zen 4/5, reported upstream at
    https://github.com/OpenMathLib/OpenBLAS/issues/6021). With the locked OpenBLAS (0.3.31.188)
    the Haswell kernel's float32 GEMM bits do not depend on it (measured on a Zen 4 for K up to
    1024 with 256..2048), so setting it would buy nothing, and clearing one the user set for
    their machine could make OpenBLAS slower or crash.

    Returns the settings applied. If `environ` is this process's environment and numpy is
    already imported, a changed setting cannot take effect here (only in processes started
    from now on): the returned `warning` says so. Nothing is raised for that.
    """
    if mode not in MODES:
        raise ValueError(f"numerics: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    applied = Applied()
    changed = []
    for var, value in PINNED.items():
        new = value if mode == "pinned" else None
        if environ.get(var) != new:
            changed.append(var)
        if new is None:
            environ.pop(var, None)
        else:
            environ[var] = new
        applied[var] = new
    if changed and environ is os.environ and "numpy" in sys.modules:
        applied.warning = (
            f"numpy is already imported in this process, so {' and '.join(changed)} "
            f"({mode}) cannot take effect in it, only in processes it starts from now on"
        )
    return applied


# --- after numpy is imported ------------------------------------------------------------------


def _umath():
    import numpy

    return numpy._core._multiarray_umath


def active_targets() -> list[str]:
    """numpy's dispatch targets that run in this process: compiled in, on this CPU, not disabled."""
    m = _umath()
    return [t for t in m.__cpu_dispatch__ if m.__cpu_features__.get(t)]


def _loaded_libraries(word: str, lib_dir: str | None) -> list[str]:
    """Paths of shared libraries whose file name contains `word`: those mapped into this
    process (Linux /proc/self/maps), else those in numpy's BLAS folder or its bundled libs."""
    found = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(maxsplit=5)  # address perms offset dev inode path
                path = parts[5].strip() if len(parts) == 6 else ""
                if path.startswith("/") and word in os.path.basename(path).lower() and path not in found:
                    found.append(path)
    except OSError:
        pass
    if found:
        return found
    import numpy

    site = os.path.dirname(os.path.dirname(numpy.__file__))
    folders = [
        d
        for d in (lib_dir, os.path.join(site, "numpy.libs"), os.path.join(os.path.dirname(numpy.__file__), ".dylibs"))
        if d
    ]
    for folder in folders:
        found += sorted(
            p
            for p in glob.glob(os.path.join(folder, f"*{word}*"))
            if p.endswith((".so", ".dylib", ".dll")) or ".so." in p
        )
    return found


def _openblas_call(lib, name: str, restype):
    """lib's OpenBLAS function `name`, under the prefixes and suffixes builds give it
    (scipy-openblas: scipy_openblas_get_corename64_), or None."""
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("64_", ""):  # 64_: the C function of an ILP64 build (64_ after a "_" is Fortran's)
            fn = getattr(lib, f"{prefix}{name}{suffix}", None)
            if fn is not None:
                fn.restype, fn.argtypes = restype, []
                return fn
    return None


def blas_info() -> dict:
    """{"name", "version", "library", "corename", "config", "threads", "error"} of numpy's BLAS.

    name and version come from numpy's build record (numpy.show_config). The kernel running
    now is asked of the loaded OpenBLAS itself with ctypes (openblas_get_corename and
    openblas_get_config, what threadpoolctl does, without the dependency): show_config's
    "openblas configuration" is the build's and says Haswell whatever kernel runs.
    """
    import numpy

    info = {
        "name": None,
        "version": None,
        "library": None,
        "corename": None,
        "config": None,
        "threads": None,
        "error": None,
    }
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception as e:  # an old or unusual numpy: say what failed, carry on
        blas = {}
        info["error"] = f"numpy.show_config: {e}"
    info["name"], info["version"] = blas.get("name"), blas.get("version")
    if "openblas" not in str(info["name"]).lower():
        return info
    for path in _loaded_libraries("openblas", blas.get("lib directory")):
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            info["error"] = f"{path}: {e}"
            continue
        corename = _openblas_call(lib, "get_corename", ctypes.c_char_p)
        if corename is None:
            continue
        config = _openblas_call(lib, "get_config", ctypes.c_char_p)
        threads = _openblas_call(lib, "get_num_threads", ctypes.c_int)
        info.update(
            library=path,
            corename=corename().decode(),
            error=None,
            config=config().decode().strip() if config else None,
            threads=threads() if threads else None,
        )
        if info["config"] and info["config"].split()[:1] == ["OpenBLAS"]:
            info["version"] = info["config"].split()[1]  # the loaded library's own
        return info
    info["error"] = info["error"] or "no loaded OpenBLAS library answers openblas_get_corename"
    return info


def honoured() -> str | None:
    """None if this process runs the reference numerics (numpy capped at X86_V3, OpenBLAS's
    Haswell kernel on x86-64); else one line saying why its bytes will differ from the reference's."""
    machine = platform.machine()
    if machine.lower() not in ("x86_64", "amd64"):
        return (
            f"this machine is {machine}, not x86-64: numpy's loops and OpenBLAS's kernels are other code "
            f"there, so results are not byte-identical to the x86-64 reference"
        )
    import numpy

    m = _umath()
    reasons = []
    if not (m.__cpu_features__.get("AVX2") and m.__cpu_features__.get("FMA3")):
        reasons.append(
            "this CPU has no AVX2/FMA (x86-64-v3), so numpy and OpenBLAS run older loops and kernels "
            "than the reference's"
        )
    elif REFERENCE_TARGET not in m.__cpu_dispatch__:
        reasons.append(
            f"numpy {numpy.__version__} has no {REFERENCE_TARGET} target (its targets: "
            f"{' '.join(m.__cpu_dispatch__) or 'none'}): not the numpy the reference ran"
        )
    else:
        active = active_targets()
        beyond = [t for t in active if t != REFERENCE_TARGET]
        if beyond:
            reasons.append(
                f"numpy runs its {' '.join(beyond)} loops: NPY_DISABLE_CPU_FEATURES="
                f"{os.environ.get('NPY_DISABLE_CPU_FEATURES')!r} did not cap it at {REFERENCE_TARGET} "
                f"(it must be set before numpy is imported)"
            )
        elif REFERENCE_TARGET not in active:
            reasons.append(
                f"numpy's {REFERENCE_TARGET} loops are switched off (NPY_DISABLE_CPU_FEATURES="
                f"{os.environ.get('NPY_DISABLE_CPU_FEATURES')!r}, NPY_ENABLE_CPU_FEATURES="
                f"{os.environ.get('NPY_ENABLE_CPU_FEATURES')!r})"
            )
    blas = blas_info()
    if "openblas" not in str(blas["name"]).lower():
        reasons.append(f"numpy's BLAS is {blas['name']}, not OpenBLAS")
    elif blas["corename"] is None:
        reasons.append(f"cannot tell which OpenBLAS kernel runs ({blas['error']})")
    elif blas["corename"].lower() != REFERENCE_KERNEL.lower():
        reasons.append(
            f"OpenBLAS runs its {blas['corename']} kernel, not {REFERENCE_KERNEL} (OPENBLAS_CORETYPE="
            f"{os.environ.get('OPENBLAS_CORETYPE')!r}; it must be set before numpy is imported)"
        )
    return "; ".join(reasons) or None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def fingerprint() -> str:
    """16 hex digits: SHA-256 of the bytes of a fixed computation made of training's operations.

    float32 as training runs: a (512, 784) @ (784, 128) forward product, its transposed
    products (the gradients), row-max-shifted exp and a softmax, tanh (sigmoid = tanh form),
    ReLU, log, sums along each axis and argmax. float64 as the distortions and metrics run:
    a Gaussian kernel (exp), a smoothing product, log, cos/sin/tan of angles, 2x2 inverses,
    a mean. Inputs are drawn from Generator(PCG64(0)), so they are the same bits everywhere;
    the result bytes then differ only where the numerics do.

    OpenBLAS's bits depend on its thread count (here 1 and 2 threads give different
    fingerprints), so the computation runs with 1 BLAS thread, training's default `threads`,
    whatever this process uses; its own count is put back afterwards.
    """
    with _one_blas_thread():
        return _fingerprint()


class _one_blas_thread:
    """Run OpenBLAS with one thread inside the block (openblas_set_num_threads), then restore."""

    def __enter__(self):
        self.restore = None
        path = blas_info()["library"]
        if path:
            lib = ctypes.CDLL(path)
            get = _openblas_call(lib, "get_num_threads", ctypes.c_int)
            put = _openblas_call(lib, "set_num_threads", None)
            if get and put:
                put.argtypes = [ctypes.c_int]
                before = get()
                put(1)
                self.restore = lambda: put(before)
        return self

    def __exit__(self, *exc):
        if self.restore:
            self.restore()


def _fingerprint() -> str:
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(0))
    h = hashlib.sha256()

    def add(a):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())

    # float32: one layer forward and backward
    x = rng.random((512, 784), dtype=np.float32)
    w = rng.standard_normal((784, 128), dtype=np.float32) * np.float32(0.05)
    w2 = rng.standard_normal((128, 10), dtype=np.float32) * np.float32(0.1)
    z = x @ w  # (512, 128)
    t = np.tanh(z)
    r = np.maximum(z, 0)
    s = r @ w2  # (512, 10) logits
    shifted = s - s.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    p = e / total
    log_total = np.log(total)
    dz = (p @ w2.T) * (r > 0)  # (512, 128)
    gw = x.T @ dz  # (784, 128)
    for a in (
        z,
        t,
        r,
        s,
        e,
        p,
        log_total,
        dz,
        gw,
        np.exp(-np.abs(z)),
        np.log1p(np.abs(t)),
        z.sum(),
        z.sum(axis=0),
        z.sum(axis=1),
        p.argmax(axis=1),
        np.sqrt(np.abs(gw)),
    ):
        add(a)
    # float64: distortions (Gaussian smoothing, affine angles) and metrics
    offsets = np.arange(-16, 17)
    kernel = np.exp(-0.5 * (offsets / 4.0) ** 2)
    kernel /= kernel.sum()
    noise = rng.uniform(-1, 1, (256, 33))
    angles = np.deg2rad(rng.uniform(-15, 15, 256))
    mats = np.stack([np.cos(angles), -np.sin(angles), np.tan(angles / 2), np.cos(angles) + 1], -1).reshape(-1, 2, 2)
    losses = rng.random(10_000) + 1e-3
    for a in (
        kernel,
        noise @ np.outer(kernel, kernel[::-1]),
        np.log(losses),
        np.exp(-losses * 30),
        mats,
        np.linalg.inv(mats),
        np.mean(-np.log(losses)),
        np.tanh(noise),
    ):
        add(a)
    return h.hexdigest()[:16]


def provenance() -> dict:
    """What ran: CPU, numpy and its dispatch, the BLAS and its kernel, the settings, the verdict
    of honoured() and the fingerprint. JSON-ready."""
    import numpy

    m = _umath()
    settings = {var: os.environ.get(var) for var in (*PINNED, *RELATED)}
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numpy_dispatch": {
            "baseline": list(m.__cpu_baseline__),
            "compiled": list(m.__cpu_dispatch__),
            "active": active_targets(),
        },
        "blas": blas_info(),
        "settings": settings,
        "mode": "pinned" if all(settings[k] == v for k, v in PINNED.items()) else "native",
        "honoured": honoured(),
        "fingerprint": fingerprint(),
    }


if __name__ == "__main__":  # python -m nn.pipeline.numerics [pinned|native]: what this machine runs
    import json

    if len(sys.argv) > 1:
        applied = pin(sys.argv[1])
        if applied.warning:
            print(applied.warning, file=sys.stderr)
    print(json.dumps(provenance(), indent=2))
