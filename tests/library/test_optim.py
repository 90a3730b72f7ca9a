"""Optimisers against hand-worked steps and their published update rules; schedules against their formulas."""

import math
from pathlib import Path

import numpy as np
import pytest

from nn.layers import Linear
from nn.model import Sequential
from nn.model import mlp
from nn.optim import FLUSH_EVERY, OPTIMIZERS, SGD, Adam, RMSprop, flush_subnormals, learning_rate
from nn.pipeline.hparams import build_optimizer, build_schedule


def one_layer(w=2.0, b=1.0):
    """A 1x1 Linear layer with known weight and bias, and gradient 0.5 on both."""
    model = Sequential([Linear(1, 1, init=None, dtype=np.float64)])
    layer = model.layers[0]
    layer.params["W"][...] = w
    layer.params["b"][...] = b
    return model, layer


def steps(optimizer, layer, n, grad=0.5):
    """n steps with gradient `grad` (a number, or one number per step) on both W and b."""
    grads = grad if isinstance(grad, list) else [grad] * n
    out = []
    for g in grads[:n]:
        layer.grads["W"][...] = g
        layer.grads["b"][...] = g
        optimizer.step()
        out.append((layer.params["W"].item(), layer.params["b"].item()))
    return out


def test_plain_sgd():
    model, layer = one_layer()
    assert steps(SGD(model, lr=0.1), layer, 2) == [pytest.approx((1.95, 0.95)), pytest.approx((1.90, 0.90))]


def test_classical_momentum():
    model, layer = one_layer()
    # v1 = -0.05, w = 1.95; v2 = 0.9 * -0.05 - 0.05 = -0.095, w = 1.855
    assert steps(SGD(model, lr=0.1, momentum=0.9), layer, 2)[1][0] == pytest.approx(1.855)


def test_nesterov_momentum():
    model, layer = one_layer()
    # w += mu v_new - lr g: step 1 -> 2 + 0.9 * -0.05 - 0.05 = 1.905; step 2 -> 1.905 + 0.9 * -0.095 - 0.05
    w = [s[0] for s in steps(SGD(model, lr=0.1, momentum=0.9, nesterov=True), layer, 2)]
    assert w == [pytest.approx(1.905), pytest.approx(1.905 - 0.0855 - 0.05)]


def test_flush_subnormals_zeroes_only_subnormals():
    tiny = np.finfo(np.float32).tiny
    a = np.array([tiny, tiny / 2, -tiny / 1000, 0.0, -0.0, 1.5, -2e-30, tiny * 0.999], np.float32)
    flush_subnormals(a, scratch=np.empty_like(a))
    assert a.tolist() == [tiny, 0.0, 0.0, 0.0, 0.0, 1.5, np.float32(-2e-30), 0.0]


@pytest.mark.parametrize(
    "make, buffer",
    [
        (lambda m: SGD(m, lr=0.1, momentum=0.9), "velocity"),
        (lambda m: SGD(m, lr=0.1, momentum=0.9, nesterov=True), "velocity"),
        (lambda m: Adam(m, lr=1e-3), "m"),
        (lambda m: RMSprop(m, lr=1e-3), "mean_square"),
    ],
    ids=["sgd", "nesterov", "adam", "rmsprop"],
)
def test_decayed_state_is_flushed_and_the_weights_do_not_change(make, buffer, monkeypatch):
    """A weight whose gradient turns zero, then comes back: its velocity (or moment) decays into
    subnormals, which the optimiser flushes every FLUSH_EVERY steps; the weights come out as
    without the flush, bit for bit."""
    import nn.optim as optim

    rng = np.random.default_rng(0)
    grads = (
        [rng.standard_normal(2).astype(np.float32) for _ in range(5)]
        + [np.zeros(2, np.float32)] * 1500
        + [rng.standard_normal(2).astype(np.float32) for _ in range(5)]
    )

    def run():
        model = Sequential([Linear(1, 1, init=None, dtype=np.float32)])
        layer = model.layers[0]
        layer.params["W"][...], layer.params["b"][...] = 0.3, -0.2
        opt = make(model)
        subnormal_after_flush = subnormal_seen = False
        for g in grads:
            layer.grads["W"][...], layer.grads["b"][...] = g
            opt.step()
            v = opt.state[buffer]
            subnormal = bool(np.any((v != 0) & (np.abs(v) < np.finfo(np.float32).tiny)))
            subnormal_seen |= subnormal
            subnormal_after_flush |= subnormal and opt.t % FLUSH_EVERY == 0
        return model.flat_params.copy(), subnormal_seen, subnormal_after_flush

    p_flushed, _, left = run()
    monkeypatch.setattr(optim, "FLUSH_EVERY", 10**9)  # never flush
    p_plain, seen, _ = run()
    assert seen and not left  # subnormals appear, and none survives a flush step
    assert p_flushed.tobytes() == p_plain.tobytes()


def test_weight_decay_shrinks_weights_not_biases():
    model, layer = one_layer(w=2.0, b=1.0)
    ((w, b),) = steps(SGD(model, lr=0.1, weight_decay=0.5), layer, 1, grad=0.0)
    assert w == pytest.approx(2.0 - 0.1 * 0.5 * 2.0) and b == 1.0


def test_momentum_out_of_range():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1"):
        SGD(one_layer()[0], lr=0.1, momentum=1)


def test_schedules():
    assert [learning_rate("constant", 0.5, e, 3) for e in range(3)] == [0.5, 0.5, 0.5]
    assert [learning_rate("linear", 1.0, e, 5, lr_min=0.2) for e in range(5)] == pytest.approx([1, 0.8, 0.6, 0.4, 0.2])
    assert learning_rate("linear", 1.0, 0, 1, lr_min=0.2) == 1.0
    assert [learning_rate("step", 1.0, e, 6, step_size=2, step_gamma=0.5) for e in range(6)] == [
        1,
        1,
        0.5,
        0.5,
        0.25,
        0.25,
    ]
    cosine = [learning_rate("cosine", 1.0, e, 4, lr_min=0.1) for e in range(4)]
    assert cosine == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    assert cosine[0] == 1.0 and cosine[-1] > 0.1
    with pytest.raises(ValueError, match="unknown 'cyclic'"):
        learning_rate("cyclic", 1.0, 0, 1)


GRADS = [0.5, -0.25, 0.125, 2.0, -1.0]  # constructed to change sign and size


def adam_reference(w, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba (ICLR 2015), Algorithm 1, line by line, in plain Python floats."""
    m = v = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(w)
    return out


def rmsprop_reference(w, grads, lr, rho=0.9, eps=1e-7):
    """Keras 2 RMSprop: a = rho a + (1 - rho) g^2; w -= lr g / (sqrt(a) + eps), a from 0."""
    a = 0.0
    out = []
    for g in grads:
        a = rho * a + (1 - rho) * g * g
        w = w - lr * g / (math.sqrt(a) + eps)
        out.append(w)
    return out


def test_adam_first_step_is_lr_times_sign():
    model, layer = one_layer(w=2.0)
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1: the step is lr g / |g|
    ((w, b),) = steps(Adam(model, lr=0.1), layer, 1, grad=0.5)
    assert w == pytest.approx(1.9, abs=1e-8) and b == pytest.approx(0.9, abs=1e-8)  # eps: 2e-9 short


@pytest.mark.parametrize("b1, b2, eps", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3), (0.0, 0.99, 1e-8)])
def test_adam_follows_algorithm_1(b1, b2, eps):
    model, layer = one_layer(w=2.0)
    got = [w for w, _ in steps(Adam(model, lr=0.1, beta1=b1, beta2=b2, eps=eps), layer, 5, grad=GRADS)]
    assert got == pytest.approx(adam_reference(2.0, GRADS, 0.1, b1, b2, eps), rel=1e-12)
    # step 2 worked by hand: m = 0.02, v = 0.00031225, m_hat = 0.02 / 0.19, v_hat = 0.00031225 / 0.001999
    if (b1, b2) == (0.9, 0.999):
        assert got[1] == pytest.approx(1.9 - 0.1 * (0.02 / 0.19) / math.sqrt(0.00031225 / 0.001999), rel=1e-6)


def test_rmsprop_follows_keras():
    model, layer = one_layer(w=2.0)
    ((w, _),) = steps(RMSprop(model, lr=0.1), layer, 1, grad=0.5)
    assert w == pytest.approx(2.0 - 0.1 * 0.5 / math.sqrt(0.025), rel=1e-6)  # a = 0.1 * 0.25, worked by hand
    model, layer = one_layer(w=2.0)
    got = [w for w, _ in steps(RMSprop(model, lr=0.01, rho=0.8, eps=1e-3), layer, 5, grad=GRADS)]
    assert got == pytest.approx(rmsprop_reference(2.0, GRADS, 0.01, 0.8, 1e-3), rel=1e-12)


@pytest.mark.parametrize("cls", [Adam, RMSprop, SGD])
def test_weight_decay_is_added_to_the_gradient_of_weights_only(cls):
    kwargs = {"momentum": 0.9} if cls is SGD else {}
    model, layer = one_layer(w=2.0, b=1.0)
    decayed = steps(cls(model, lr=0.1, weight_decay=0.5, **kwargs), layer, 3, grad=0.25)
    ref_model, ref = one_layer(w=2.0, b=1.0)  # the same optimiser without decay, fed g + 0.5 w by hand
    opt, expected = cls(ref_model, lr=0.1, **kwargs), []
    for _ in range(3):
        ref.grads["W"][...] = 0.25 + 0.5 * ref.params["W"]
        ref.grads["b"][...] = 0.25
        opt.step()
        expected.append((ref.params["W"].item(), ref.params["b"].item()))
    assert np.allclose(decayed, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_resumes_exactly(name):
    """Steps 1-3, save, a fresh optimiser loads the state, steps 4-6 equal the uninterrupted run."""

    def net():
        return mlp([3, 4, 2], activation="relu", output="softmax", init="he", rng=1, dtype=np.float64)

    def run(model, opt, grads):
        for g in grads:
            for _, p, grad, _ in model.parameters():
                grad[...] = g * np.arange(p.size).reshape(p.shape) / p.size - 0.1
            opt.step()

    hp = {
        "optimizer": name,
        "lr": 0.05,
        "weight_decay": 1e-3,
        "momentum": 0.9 if name == "sgd" else 0.0,
        "nesterov": False,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "rho": 0.9,
    }
    grads = [0.5, -0.3, 1.0, 0.2, -0.7, 0.4]
    whole = net()
    whole_opt = build_optimizer(hp, whole)
    run(whole, whole_opt, grads)
    first = net()
    first_opt = build_optimizer(hp, first)
    run(first, first_opt, grads[:3])
    state = first_opt.state_dict()
    assert all(isinstance(v, (int, float, np.ndarray)) for v in state.values())
    second_opt = build_optimizer(hp, first)
    second_opt.load_state_dict(state)
    run(first, second_opt, grads[3:])
    for (name_, a, _, _), (_, b, _, _) in zip(whole.parameters(), first.parameters()):
        assert a.tobytes() == b.tobytes(), name_
    assert second_opt.t == 6


def test_load_state_dict_names_what_does_not_fit():
    model = mlp([3, 4, 2], activation="relu", output="softmax", rng=1)
    state = Adam(model).state_dict()
    assert sorted(state) == ["lr", "m", "t", "v"] and state["m"].shape == (
        1,
        3 * 4 + 4 + 4 * 2 + 2,
    )  # a row per replica
    other = mlp([3, 5, 2], activation="relu", output="softmax", rng=1)
    with pytest.raises(ValueError, match=r"Adam state: m has shape \(1, 26\), this model needs \(1, 32\)"):
        Adam(other).load_state_dict(state)
    stack = mlp([3, 4, 2], activation="relu", output="softmax", rng=[np.random.default_rng(s) for s in (1, 2)])
    with pytest.raises(ValueError, match=r"Adam state: m has shape \(1, 26\), this model needs \(2, 26\)"):
        Adam(stack).load_state_dict(state)
    with pytest.raises(ValueError, match="RMSprop state: entries do not match this optimiser"):
        RMSprop(model).load_state_dict(state)


def test_build_optimizer_reads_the_registry():
    model = mlp([3, 4, 2], activation="relu", output="softmax", rng=1)
    hp = {
        "lr": 0.01,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "nesterov": False,
        "beta1": 0.8,
        "beta2": 0.99,
        "eps": 1e-6,
        "rho": 0.95,
    }
    sgd = build_optimizer({**hp, "optimizer": "sgd", "momentum": 0.5, "nesterov": True}, model)
    assert type(sgd) is SGD and (sgd.lr, sgd.momentum, sgd.nesterov) == (0.01, 0.5, True)
    adam = build_optimizer({**hp, "optimizer": "adam"}, model)
    assert type(adam) is Adam and (adam.beta1, adam.beta2, adam.eps) == (0.8, 0.99, 1e-6)
    rms = build_optimizer({**hp, "optimizer": "rmsprop"}, model)
    assert type(rms) is RMSprop and (rms.rho, rms.eps) == (0.95, 1e-6)
    assert type(build_optimizer({k: v for k, v in hp.items()}, model)) is SGD  # no key: SGD, as before
    with pytest.raises(ValueError, match="optimizer: unknown 'lbfgs'; expected one of sgd, adam, rmsprop"):
        build_optimizer({**hp, "optimizer": "lbfgs"}, model)
    with pytest.raises(ValueError, match="momentum/nesterov: apply to optimizer sgd only, not adam"):
        build_optimizer({**hp, "optimizer": "adam", "momentum": 0.9}, model)
    with pytest.raises(ValueError, match=r"Adam: beta1 must be in \[0, 1\), got 1"):
        build_optimizer({**hp, "optimizer": "adam", "beta1": 1}, model)


def test_schedule_from_hp():
    hp = {"lr": 1.0, "schedule": "step", "epochs": 4, "lr_min": 0.0, "step_size": 1, "step_gamma": 0.5}
    assert [build_schedule(hp)(e) for e in range(4)] == [1, 0.5, 0.25, 0.125]


def test_a_new_optimizer_is_a_class_and_a_registration(monkeypatch):
    """docs/interfaces.md, "Adding a layer or an optimiser": nothing else needs to change."""
    from nn.pipeline import config as nnconfig
    from nn.optim import Optimizer

    class Sign(Optimizer):
        def update(self, p, g, state, scratch):
            np.sign(g, out=g)
            g *= self.lr
            p -= g

    monkeypatch.setitem(OPTIMIZERS, "sign", Sign)
    model, layer = one_layer(w=2.0, b=1.0)
    opt = build_optimizer({"optimizer": "sign", "lr": 0.1, "weight_decay": 0.0}, model)
    assert steps(opt, layer, 1, grad=-3.0) == [pytest.approx((2.1, 1.1))]
    schema = nnconfig.load_schema(Path(__file__).parents[2] / "workflow" / "schemas" / "config.schema.yaml")
    assert "sign" in schema["$defs"]["optimizer"]["enum"]


@pytest.mark.parametrize(
    "hp",
    [
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": False},
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
        {"optimizer": "sgd", "momentum": 0.0, "nesterov": False},
        {"optimizer": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        {"optimizer": "rmsprop", "rho": 0.9, "eps": 1e-7},
    ],
)
def test_updating_in_chunks_gives_the_same_bits_as_one_update(hp, monkeypatch):
    """Optimizer.step calls update() once per UPDATE_CHUNK parameters so that a rule's passes stay in
    cache; the rules are elementwise, so chunked and whole updates agree bit for bit."""
    import nn.optim

    hp = {"lr": 0.05, "weight_decay": 0.0, **hp}
    finals = []
    for chunk in (1000, 1 << 30):
        monkeypatch.setattr(nn.optim, "UPDATE_CHUNK", chunk)
        rng = np.random.default_rng(3)
        model = mlp([30, 200, 10], activation="relu", output="softmax", loss="cross_entropy", init="he", rng=rng)
        opt = build_optimizer(hp, model)
        assert len(opt.chunks) == (9 if chunk == 1000 else 1)  # 8,210 parameters
        for _ in range(FLUSH_EVERY + 3):  # past a subnormal flush too
            model.flat_grads[...] = rng.standard_normal(model.flat_grads.shape).astype(model.dtype)
            opt.step()
        finals.append((model.flat_params.copy(), {k: v.copy() for k, v in opt.state.items()}))
    (p1, s1), (p2, s2) = finals
    assert p1.tobytes() == p2.tobytes()
    assert all(s1[k].tobytes() == s2[k].tobytes() for k in s1)


@pytest.mark.parametrize("chunk", [7, 1 << 30], ids=["chunked", "whole"])
@pytest.mark.parametrize(
    "hp",
    [
        {"optimizer": "sgd", "momentum": 0.0, "nesterov": False},
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": False, "weight_decay": 1e-3},
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
        {"optimizer": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-3},
        {"optimizer": "rmsprop", "rho": 0.9, "eps": 1e-7},
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "rmsprop"],
)
def test_each_replica_of_a_stack_steps_as_it_does_alone(hp, chunk, monkeypatch):
    """An optimiser on a stack of k replicas updates (k, n_params): row r, fed replica r's gradients,
    gets the bits of the same optimiser on replica r's network alone, state buffers included."""
    import nn.optim

    monkeypatch.setattr(nn.optim, "UPDATE_CHUNK", chunk)
    hp = {"lr": 0.05, "weight_decay": 0.0, **hp}
    seeds = (4, 5, 6)
    build = lambda rng: mlp([6, 5, 3], activation="relu", output="softmax", init="he", rng=rng)  # noqa: E731
    stack = build([np.random.default_rng(s) for s in seeds])
    opt = build_optimizer(hp, stack)
    assert opt.p.shape == stack.flat_params.shape == (3, 6 * 5 + 5 + 5 * 3 + 3)
    grads = np.random.default_rng(0).standard_normal((FLUSH_EVERY + 3, *stack.flat_grads.shape)).astype(np.float32)
    for g in grads:
        stack.flat_grads[...] = g
        opt.step()
    for r, seed in enumerate(seeds):
        alone = build(np.random.default_rng(seed))
        alone_opt = build_optimizer(hp, alone)
        for g in grads:
            alone.flat_grads[...] = g[r]
            alone_opt.step()
        assert alone.flat_params[0].tobytes() == stack.flat_params[r].tobytes()
        assert all(alone_opt.state[b][0].tobytes() == opt.state[b][r].tobytes() for b in opt.state)
    assert not np.array_equal(stack.flat_params[0], stack.flat_params[1])
