"""nn.report.distortions: the figure of each class's first image under the distortions."""

import numpy as np

from nn.report.distortions import distortion_grid, first_of_each_class


def test_distortion_figure_is_a_reproducible_png(tmp_path):
    rng = np.random.default_rng(9)
    images, labels = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), (np.arange(30) % 7).astype(np.uint8)
    for name in ("a", "b"):
        distortion_grid(tmp_path / f"{name}.png", images, labels, {"rotate": 10.0, "elastic_alpha": 20.0}, "run x")
    data = (tmp_path / "a.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == (tmp_path / "b.png").read_bytes()
    distortion_grid(tmp_path / "none.png", images, labels, {}, "no run")  # nothing on: the originals
    assert first_of_each_class(images, labels)[1].tolist() == list(range(7))
