"""nn.report.published: the published curves and points drawn over ours."""


def test_published_overlay_draws_every_seed_and_the_published_points(tmp_path):
    from nn.report.published import published_overlay

    h = {"epoch": [1, 2, 3], "test_accuracy": [0.8, 0.85, 0.9], "train_loss": [0.5, 0.3, 0.2]}
    curves = {
        "test_accuracy": {"epochs": [1, 3], "values": [0.82, 0.91]},
        "train_loss": {"epochs": [1], "values": [0.4]},
    }
    published_overlay(tmp_path / "a.png", "run", [h, dict(h, test_accuracy=[0.7, 0.8, 0.88]), None], curves, "a source")
    one_epoch = {"epoch": [1], "train_accuracy": [0.93]}
    published_overlay(
        tmp_path / "b.png", "blog", [one_epoch], {"train_accuracy": {"epochs": [1], "values": [0.9]}}, "b"
    )
    published_overlay(tmp_path / "c.png", "failed", [None, None], curves, "c")  # no seed finished
    for name in "abc":
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    first = (tmp_path / "a.png").read_bytes()
    published_overlay(tmp_path / "a.png", "run", [h, dict(h, test_accuracy=[0.7, 0.8, 0.88]), None], curves, "a source")
    assert (tmp_path / "a.png").read_bytes() == first  # same data, same bytes
