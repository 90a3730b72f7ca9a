"""Published training costs against ours (nn.report.costs) and the least a loss can reach
(nn.losses.least_cost, the output layers' bounds)."""

import numpy as np
import pytest

from nn.layers import ACTIVATIONS, Linear, ReLU, Sigmoid, Softmax, Tanh
from nn.losses import get_loss, least_cost, one_hot
from nn.report import ledger, ledger_html, reproduction
from nn.report.costs import COST_REPRODUCED, contradiction, cost_row, cost_rows, ours_after


def test_the_label_as_every_target_costs_at_least_ten_times_label_minus_one_squared():
    labels = np.array([0, 1, 2, 5, 9])
    y = one_hot(labels, 10, np.float64)
    floor = least_cost(get_loss("label_difference", "sigmoid"), y, Sigmoid.bounds)
    assert floor == pytest.approx(np.mean([0, 0, 10 * 1, 10 * 16, 10 * 64]))
    # a ReLU output can reach any label: nothing is out of reach
    assert least_cost(get_loss("label_difference", "relu"), y, ReLU.bounds) == 0.0
    # one-hot targets are inside a sigmoid's range; cross-entropy has no target to clip
    assert least_cost(get_loss("quadratic", "sigmoid"), y, Sigmoid.bounds) == 0.0
    assert least_cost(get_loss("cross_entropy", "softmax"), y, Softmax.bounds) == 0.0


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), ReLU(), Softmax(), ACTIVATIONS["relu_identity_grad"]()])
def test_an_activations_outputs_lie_within_its_bounds(layer):
    z = np.array([[[-1e4, -3.0, 0.0, 3.0, 1e4]]])
    out = layer.forward(z)
    low, high = layer.bounds
    assert np.all(out >= low) and np.all(out <= high)
    assert Linear.bounds == (-np.inf, np.inf)


def seed(history_losses, final=None, least=None):
    cost = None if final is None else {"train_loss": final, "least_cost": least if least is not None else 0.0}
    return {"history": {"train_loss": history_losses}, "train_cost": cost}


def test_ours_is_the_next_rounds_loss_or_after_the_last_round_the_final_cost():
    s = seed([1.25, 1.0, 0.5], final=0.4)
    assert ours_after(s, 1, 3) == 1.0  # round 2's loss starts from the weights after round 1
    assert ours_after(s, 2, 3) == 0.5
    assert ours_after(s, 3, 3) == 0.4  # after the last round: the final weights
    assert ours_after(seed([1.0]), 1, 1) is None  # no train-cost.json


def test_a_cost_below_the_least_the_protocol_reaches_contradicts_it():
    seeds = [seed([300.0], final=210.0 + i, least=201.8) for i in range(3)]
    row = cost_row({"after_rounds": 1, "value": 0.9, "quote": "q"}, seeds, epochs=1)
    assert row["verdict"] == "contradicts"
    assert "0.9 is below the least" in row["reason"] and "201.8" in row["reason"]
    assert contradiction([row]) == row["reason"]
    # the same cost above the floor is judged by the rule: far above our seeds
    row = cost_row({"after_rounds": 1, "value": 250.0, "quote": "q"}, seeds, epochs=1)
    assert row["verdict"] == "above" and contradiction([row]) == ""


def test_a_cost_that_chose_a_parameter_is_shown_without_a_verdict():
    seeds = [seed([1.0, 0.45 + 0.001 * i], final=0.04) for i in range(3)]
    row = cost_row({"after_rounds": 1, "value": 0.445, "quote": "q", "chose": ["lr", "init_scale"]}, seeds, epochs=2)
    assert row["verdict"] == "used to choose" and row["reason"] == "used to choose lr, init_scale"
    assert row["mean"] == pytest.approx(0.451)


@pytest.mark.parametrize(
    "spread, n, expected", [(0.001, 3, "reproduced"), (0.05, 3, "inconclusive"), (0.05, 8, "within_spread")]
)
def test_a_cost_inside_our_interval_is_judged_by_its_width(spread, n, expected):
    values = [0.45 + spread * (i - (n - 1) / 2) / n for i in range(n)]
    seeds = [seed([1.0], final=v) for v in values]
    row = cost_row({"after_rounds": 1, "value": 0.45, "quote": "q"}, seeds, epochs=1)
    assert row["verdict"] == expected
    assert (row["half_width"] <= COST_REPRODUCED * 0.45) == (expected == "reproduced")


def test_a_run_without_published_costs_has_no_cost_rows():
    assert cost_rows({"epochs": 1, "reference": {"accuracy": 0.5}}, [seed([1.0], final=0.5)]) == []
    assert cost_rows({"epochs": 1, "reference": None}, []) == []


def run_with_costs(costs, accuracies=(0.08, 0.09, 0.085), least=201.8, final=(210.0, 211.0, 212.0)):
    """A run dict (nn.report.reproduction) of three seeds whose reference publishes `costs`."""
    hp = {
        "epochs": 1,
        "hidden": [30],
        "reference": {
            "accuracy": 0.35,
            "source": "a blog",
            "kind": "reproduction",
            "measure": "final_test",
            "costs": costs,
            "protocol": "as the blog ran it",
        },
    }
    seeds = [
        {
            "seed": i + 1,
            "metrics": {"test_accuracy": a, "test_loss": 200.0, "n_test": 10000},
            "history": {"epoch": [1], "train_loss": [300.0]},
            "timings": None,
            "predictions": None,
            "train_cost": {"train_loss": f, "least_cost": least, "n_images": 60000},
        }
        for i, (a, f) in enumerate(zip(accuracies, final))
    ]
    return {"run": "blog-bug", "hp": hp, "seeds": seeds, "plots": {}}


def test_a_cost_out_of_the_protocols_reach_is_the_rows_verdict_not_above():
    run = run_with_costs([{"after_rounds": 1, "value": 0.9, "quote": "the blog: 'plateus at a cost of 0.9'"}])
    row = reproduction.run_row(run)
    assert row["verdict"] == "contradicts" and "below the least" in row["contradiction"]
    assert ledger.headline([row]) == (
        "0 of 1 published figures reproduced (1 where the source's figures contradict its stated protocol)"
    )
    assert ledger.verdict_text(row).startswith("figures contradict the protocol ±")
    md = ledger.ledger_markdown([row], {"blog-bug": run["hp"]})
    assert "| ↳ cost after 1 round |  | 0.9 | 211 ± 1 (3 seeds) | figures contradict the protocol |" in md
    html = ledger_html.ledger_table([row], {"blog-bug": run})
    assert '<tr class="cost">' in html and "plateus at a cost of 0.9" in html and "below the least" in html
    # the same figure with a cost within reach: the figure's own verdict stands
    row = reproduction.run_row(run_with_costs([{"after_rounds": 1, "value": 250.0, "quote": "q"}]))
    assert row["verdict"] == "above" and row["contradiction"] == ""


def test_a_cost_that_chose_a_parameter_says_so_in_the_ledger():
    run = run_with_costs([{"after_rounds": 1, "value": 211.0, "quote": "q", "chose": ["lr"]}], least=0.0)
    row = reproduction.run_row(run)
    assert row["verdict"] == "above"  # the figure's verdict; the cost gives none
    md = ledger.ledger_markdown([row], {"blog-bug": run["hp"]})
    assert "| ↳ cost after 1 round |  | 211 | 211 ± 1 (3 seeds) | used to choose lr |" in md


def test_after_the_last_round_the_interval_holds_the_sampling_error_of_a_cost_on_those_images():
    """Seeds that all agree to 1e-7 still leave the cost of one more run uncertain by the images' own
    spread: a published cost 7e-5 away is inside (reproduced), as an accuracy on a finite set is."""
    seeds = [seed([0.9], final=0.44985 + 1e-7 * i) for i in range(3)]
    for s in seeds:
        s["train_cost"].update(train_loss_sd=0.1, n_images=60000)
    row = cost_row({"after_rounds": 1, "value": 0.44992, "quote": "q"}, seeds, epochs=1)
    assert row["half_width"] == pytest.approx(1.959963984540054 * 0.1 / 60000**0.5, rel=1e-3)
    assert row["verdict"] == "reproduced"
    for s in seeds:
        del s["train_cost"]["train_loss_sd"]  # without the images' spread: our seeds alone, far too narrow
    assert cost_row({"after_rounds": 1, "value": 0.44992, "quote": "q"}, seeds, epochs=1)["verdict"] == "above"
