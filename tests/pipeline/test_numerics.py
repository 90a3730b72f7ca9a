"""nn.pipeline.numerics: the pin, what honours it, and that it fixes the bytes of training.

Each computation whose numerics matter runs in a fresh subprocess, since numpy and OpenBLAS
read their settings once, at import. Every subprocess runs OpenBLAS's Haswell kernel (the
pinned one); only numpy's dispatch cap is toggled. The test process's own environment is
never changed: pin() is tested on dicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nn.pipeline import numerics

REPO = Path(__file__).resolve().parents[2]
CAP = numerics.PINNED["NPY_DISABLE_CPU_FEATURES"]


def train_bytes() -> str:
    """SHA-256 of a small training's result bytes (weights and history), done with nn's own API.

    float64, softmax cross-entropy, elastic distortions: the path of a `dtype: float64` run.
    (float32 training gives the same bytes with and without numpy's AVX-512 loops on a Zen 4:
    numpy 2.4's float32 exp, tanh and log loops agree bit for bit; its float64 exp and log do
    not, nor float32 log1p, expm1 and power.) fit's signature may change: adapt here only.
    """
    import numpy as np

    from nn.augment import compose
    from nn.model import mlp
    from nn.optim import SGD
    from nn.train import FitConfig, TrainState, fit

    data = np.random.Generator(np.random.PCG64(0))
    x = data.random((384, 784))
    labels = data.integers(0, 10, 384)
    rngs = [np.random.default_rng(1), np.random.default_rng(2)]  # a stack of two seeds, as a run trains them
    model = mlp([784, 32, 10], activation="relu", output="softmax", init="he", rng=rngs, dtype=np.float64)
    config = FitConfig(epochs=2, batch_size=32, augment=compose(elastic_alpha=34.0, elastic_sigma=4.0))
    states = fit(model, SGD(model, lr=0.1, momentum=0.9), (x, labels), config, [TrainState(g) for g in rngs])
    h = hashlib.sha256(model.flat_params.tobytes())
    for state in states:
        assert state.failure is None
        h.update(json.dumps(state.history, sort_keys=True).encode())
    return h.hexdigest()


def env_with(**changes) -> dict:
    """A copy of this environment, pinned, one BLAS thread, with `changes` (None removes a variable)."""
    env = dict(os.environ)
    env.pop("NPY_ENABLE_CPU_FEATURES", None)
    numerics.pin("pinned", env)
    env["OPENBLAS_NUM_THREADS"] = "1"
    for var, value in changes.items():
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    assert env["OPENBLAS_CORETYPE"] == "Haswell"  # never another kernel in these tests
    return env


def run_python(code: str, env: dict) -> dict:
    """Run `code` (which prints one JSON object last) in a fresh interpreter; its answer, plus
    the active numpy targets and the OpenBLAS kernel of that process."""
    tail = (
        "\nimport json as _j\nfrom nn.pipeline import numerics as _n\n"
        "print(_j.dumps({**_answer, 'active': _n.active_targets(), 'kernel': _n.blas_info()['corename']}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code + tail], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["kernel"] == "Haswell", out
    return out


TRAIN = (
    f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    "from test_numerics import train_bytes\n_answer = {'bytes': train_bytes()}\n"
)
FINGERPRINT = "from nn.pipeline.numerics import fingerprint\n_answer = {'fingerprint': fingerprint()}\n"


def skip_without_avx512(uncapped: dict):
    if not set(uncapped["active"]) - {numerics.REFERENCE_TARGET}:
        pytest.skip(
            f"no AVX-512 here (numpy's active targets without the cap: {uncapped['active']}): "
            f"the cap changes nothing to compare"
        )


# --- pin() on dicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [{}, {"OPENBLAS_CORETYPE": "SkylakeX", "NPY_DISABLE_CPU_FEATURES": "X86_V4"}, {"OPENBLAS_CORETYPE": "zen"}],
)
def test_pinned_sets_haswell_and_the_cap_whatever_the_dict_had(before):
    env = dict(before, HOME="/somewhere")
    applied = numerics.pin("pinned", env)
    assert env == {
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "HOME": "/somewhere",
    }
    assert applied == numerics.PINNED and applied.warning is None


def test_native_clears_the_pin_and_leaves_the_rest():
    env = {
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": CAP,
        "OPENBLAS_L2_SIZE": "2048",
        "OPENBLAS_NUM_THREADS": "1",
    }
    applied = numerics.pin("native", env)
    assert env == {"OPENBLAS_L2_SIZE": "2048", "OPENBLAS_NUM_THREADS": "1"}
    assert applied == {"OPENBLAS_CORETYPE": None, "NPY_DISABLE_CPU_FEATURES": None}
    assert numerics.pin("native", env) == applied and env == {"OPENBLAS_L2_SIZE": "2048", "OPENBLAS_NUM_THREADS": "1"}


def test_an_unknown_mode_is_refused():
    env = {"OPENBLAS_CORETYPE": "Zen"}
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        numerics.pin("fast", env)
    assert env == {"OPENBLAS_CORETYPE": "Zen"}


def test_pinning_after_numpy_is_imported_warns_instead_of_raising():
    code = (
        "import numpy\nfrom nn.pipeline.numerics import pin\n"
        "late = pin('pinned')\nagain = pin('pinned')\n"
        "_answer = {'late': late.warning, 'again': again.warning, 'set': dict(late)}\n"
    )
    out = run_python(code, env_with(OPENBLAS_CORETYPE="Haswell", NPY_DISABLE_CPU_FEATURES=None))
    assert "numpy is already imported" in out["late"] and "NPY_DISABLE_CPU_FEATURES" in out["late"]
    assert "OPENBLAS_CORETYPE" not in out["late"]  # it already had that value: nothing changed
    assert out["again"] is None and out["set"] == numerics.PINNED


def test_the_module_does_not_import_numpy():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, nn.pipeline.numerics; print('numpy' in sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "False", proc.stderr


def test_numpy_knows_every_name_of_the_cap():
    """An unknown name is only an ImportWarning, and then ignored: check each against numpy."""
    from numpy._core import _multiarray_umath as m

    assert set(CAP.split()) <= set(m.__cpu_dispatch__)
    assert not set(CAP.split()) & set(m.__cpu_baseline__)  # disabling a baseline target is an ImportError


# --- honoured() and provenance() ---------------------------------------------------------------


def test_a_pinned_process_honours_the_pin_and_records_it():
    out = run_python(
        "from nn.pipeline.numerics import honoured, provenance\n"
        "_answer = {'honoured': honoured(), 'provenance': provenance()}\n",
        env_with(),
    )
    if out["provenance"]["machine"] != "x86_64":
        pytest.skip("not an x86-64 machine")
    assert out["honoured"] is None
    p = out["provenance"]
    assert p["numpy_dispatch"]["active"] == ["X86_V3"] and p["blas"]["corename"] == "Haswell"
    assert p["settings"]["OPENBLAS_CORETYPE"] == "Haswell" and p["settings"]["NPY_DISABLE_CPU_FEATURES"] == CAP
    assert p["mode"] == "pinned" and len(p["fingerprint"]) == 16 and int(p["fingerprint"], 16) >= 0
    assert p["blas"]["version"] and p["cpu"]


def test_honoured_names_numpy_s_avx512_loops_when_the_cap_is_off():
    out = run_python(
        "from nn.pipeline.numerics import honoured\n_answer = {'honoured': honoured()}\n",
        env_with(NPY_DISABLE_CPU_FEATURES=None),
    )
    skip_without_avx512(out)
    assert out["honoured"].startswith("numpy runs its X86_V4") and "NPY_DISABLE_CPU_FEATURES=None" in out["honoured"]
    assert "OpenBLAS" not in out["honoured"]


def test_honoured_names_another_openblas_kernel(monkeypatch):
    """Without running another kernel: blas_info is made to answer as a SkylakeX process would."""
    real = numerics.blas_info()
    if "openblas" not in str(real["name"]).lower():
        pytest.skip(f"numpy's BLAS here is {real['name']}")
    monkeypatch.setattr(numerics, "blas_info", lambda: {**real, "corename": "SkylakeX"})
    said = numerics.honoured()
    assert "OpenBLAS runs its SkylakeX kernel, not Haswell" in said
    monkeypatch.setattr(numerics, "blas_info", lambda: {**real, "name": "accelerate"})
    assert "numpy's BLAS is accelerate, not OpenBLAS" in numerics.honoured()


def test_honoured_refuses_other_architectures(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    assert numerics.honoured().startswith("this machine is aarch64, not x86-64")


# --- the bytes ----------------------------------------------------------------------------------


def test_pinned_training_gives_the_bytes_of_an_avx2_machine():
    """Pinned here = a machine whose numpy has nothing above X86_V3 (emulated by enabling only
    X86_V3, without the cap): the same training bytes."""
    pinned = run_python(TRAIN, env_with())
    avx2_only = run_python(TRAIN, env_with(NPY_DISABLE_CPU_FEATURES=None, NPY_ENABLE_CPU_FEATURES="X86_V3"))
    assert pinned["active"] == avx2_only["active"] == ["X86_V3"]
    assert pinned["bytes"] == avx2_only["bytes"]


def test_training_bytes_differ_without_the_cap_on_an_avx512_machine():
    """The cap is what makes the bytes the same: without it (kernel still Haswell), numpy's
    AVX-512 loops give other bytes."""
    uncapped = run_python(TRAIN, env_with(NPY_DISABLE_CPU_FEATURES=None))
    skip_without_avx512(uncapped)
    pinned = run_python(TRAIN, env_with())
    assert pinned["bytes"] != uncapped["bytes"]


def test_the_fingerprint_changes_with_the_cap_on_an_avx512_machine():
    uncapped = run_python(FINGERPRINT, env_with(NPY_DISABLE_CPU_FEATURES=None))
    skip_without_avx512(uncapped)
    pinned = run_python(FINGERPRINT, env_with())
    assert pinned["fingerprint"] != uncapped["fingerprint"]


def test_the_fingerprint_is_that_of_an_avx2_machine_and_of_any_blas_thread_count():
    """It runs with one BLAS thread whatever the process has (1 and 2 threads give other bits)."""
    one = run_python(FINGERPRINT, env_with())
    two = run_python(FINGERPRINT, env_with(OPENBLAS_NUM_THREADS="2"))
    avx2_only = run_python(FINGERPRINT, env_with(NPY_DISABLE_CPU_FEATURES=None, NPY_ENABLE_CPU_FEATURES="X86_V3"))
    assert one["fingerprint"] == two["fingerprint"] == avx2_only["fingerprint"]
