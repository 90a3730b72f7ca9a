"""nn.augment's distortions: each piece against a slow per-pixel reference written out here."""

import math

import numpy as np
import pytest

from nn.augment import (
    affine_matrices,
    bilinear,
    distort_images,
    elastic_field,
    gaussian_matrix,
)


def test_bilinear_reads_pixels_between_pixels_and_zeros_outside():
    img = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    y = np.array([[0, 0.5, 1.25, 3, -1, 4.5, 3.5]], float)
    x = np.array([[0, 0, 2, 3.5, 0, 0, 3]], float)
    # (0,0) -> 0; (0.5,0) -> (0+4)/2; (1.25,2) -> .75*6 + .25*10; (3,3.5) -> half of 15 (edge);
    # (-1,0) outside; (4.5,0) outside; (3.5,3) -> half of 15
    expected = [0, 2, 7, 7.5, 0, 0, 7.5]
    np.testing.assert_allclose(bilinear(img, y, x)[0], expected, rtol=1e-6)


def test_gaussian_matrix_is_zero_padded_convolution():
    sigma = 1.5
    g = gaussian_matrix(sigma, side=12)
    radius = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    f = np.random.default_rng(0).uniform(-1, 1, 12)
    ref = [sum(k[d + radius] * f[i - d] for d in range(-radius, radius + 1) if 0 <= i - d < 12) for i in range(12)]
    np.testing.assert_allclose(g @ f, ref, rtol=1e-12)


def test_elastic_field_is_smoothed_uniform_noise_times_alpha():
    field = elastic_field(3, 34.0, 4.0, np.random.default_rng(1))
    raw = np.random.default_rng(1).uniform(-1, 1, size=(2, 3, 28, 28))
    g = gaussian_matrix(4.0)
    # smoothing rows then columns, written as two separate passes
    ref = 34.0 * np.einsum("ij,...jk->...ik", g, np.einsum("...ij,kj->...ik", raw, g))
    np.testing.assert_allclose(field, ref, rtol=1e-10)
    assert field.shape == (2, 3, 28, 28) and 0.3 < field.std() < 3  # Simard's setting moves pixels ~1 px


def test_affine_matrices_compose_rotation_shear_and_scale():
    rng = np.random.default_rng(2)
    a = affine_matrices(500, rotate=15, scale=0.2, shear=0, rng=np.random.default_rng(2))
    angle = np.deg2rad(rng.uniform(-1, 1, size=(2, 500))[0] * 15)
    sy, sx = 1 + 0.2 * rng.uniform(-1, 1, size=(2, 500))
    np.testing.assert_allclose(np.linalg.det(a), sy * sx)  # rotation and shear keep areas
    np.testing.assert_allclose(a[:, 0, 0], np.cos(angle) * sy)
    assert np.abs(angle).max() <= np.deg2rad(15) and np.abs(angle).max() > np.deg2rad(14)
    sheared = affine_matrices(1, rotate=0, scale=0, shear=30, rng=np.random.default_rng(3))[0]
    assert sheared[0].tolist() == [1, 0] and sheared[1, 1] == 1 and abs(sheared[1, 0]) <= math.tan(math.radians(30))


def reference_distortion(image, rng, rotate, scale, shear, translate, alpha, sigma):
    """One image at a time, pixel by pixel: the backward map the module's docstring states."""
    a = affine_matrices(1, rotate, scale, shear, rng)[0] if (rotate or scale or shear) else np.eye(2)
    inv = np.linalg.inv(a)
    t = rng.uniform(-translate, translate, size=2) if translate else np.zeros(2)
    field = elastic_field(1, alpha, sigma, rng)[:, 0] if alpha else np.zeros((2, 28, 28))
    out = np.zeros((28, 28))
    c = 13.5
    for r in range(28):
        for col in range(28):
            sy, sx = inv @ [r - c, col - c] + c - t + field[:, r, col]
            y0, x0 = math.floor(sy), math.floor(sx)
            for yy, wy in ((y0, 1 - (sy - y0)), (y0 + 1, sy - y0)):
                for xx, wx in ((x0, 1 - (sx - x0)), (x0 + 1, sx - x0)):
                    if 0 <= yy < 28 and 0 <= xx < 28:
                        out[r, col] += wy * wx * image[yy, xx]
    return out


@pytest.mark.parametrize(
    "settings",
    [
        dict(rotate=20, scale=0.15, shear=10, translate=2.0),
        dict(elastic_alpha=34.0, elastic_sigma=4.0),
        dict(rotate=10, translate=1.0, elastic_alpha=20.0, elastic_sigma=3.0),
    ],
)
def test_batch_distortion_matches_the_per_pixel_reference(settings):
    images = np.random.default_rng(4).random((1, 784)).astype(np.float64)
    got = distort_images(images, np.random.default_rng(5), **settings)
    kw = dict(rotate=0, scale=0, shear=0, translate=0, alpha=0, sigma=4.0)
    kw.update({k.replace("elastic_", ""): v for k, v in settings.items()})
    ref = reference_distortion(images[0].reshape(28, 28), np.random.default_rng(5), **kw)
    np.testing.assert_allclose(got.reshape(28, 28), ref, atol=1e-9)


def test_each_image_gets_its_own_distortion_and_the_seed_repeats_it():
    x = np.tile(np.random.default_rng(6).random((1, 784)).astype(np.float32), (8, 1))
    a = distort_images(x, np.random.default_rng(7), rotate=15, elastic_alpha=34.0)
    b = distort_images(x, np.random.default_rng(7), rotate=15, elastic_alpha=34.0)
    assert a.dtype == np.float32 and a.shape == x.shape and a.tobytes() == b.tobytes()
    assert len({row.tobytes() for row in a}) == 8
    assert a.min() >= 0 and a.max() <= 1  # bilinear weights: a convex mix of pixels
