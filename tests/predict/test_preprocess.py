"""nn.predict.preprocess: any image file -> a 28×28 digit made the way MNIST's were; bad files named."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from digits import png_header_only, ring, seven
from nn.predict.preprocess import MAX_PIXELS, READ_SIDE, ImageError, load_digit, pipe_cap, read_image, to_mnist


def save(path, grey, mode="L", **kw):
    """Write (h, w) grey in [0, 1] as an 8-bit image file."""
    Image.fromarray(np.round(grey * 255).astype(np.uint8)).convert(mode).save(path, **kw)
    return path


def centre_of_mass(d):
    d = d.astype(np.float64)
    return (d.sum(1) @ np.arange(28)) / d.sum(), (d.sum(0) @ np.arange(28)) / d.sum()


def diff(a, b):
    """Mean absolute difference in grey levels, up to a one-pixel shift (centring rounds to whole pixels)."""
    a, b = a.astype(int), b.astype(int)
    return min(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean() for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def ink_box(d):
    rows, cols = np.flatnonzero(d.any(1)), np.flatnonzero(d.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# ---------------------------------------------------------------- the MNIST recipe


def test_digit_is_mnist_shaped_and_centred():
    d = to_mnist(ring())
    assert d.shape == (28, 28) and d.dtype == np.uint8 and d.max() == 255
    assert d[:2].max() == d[-2:].max() == d[:, :2].max() == d[:, -2:].max() == 0
    h, w = ink_box(d)
    assert h == 20 and 12 <= w <= 15  # the longer side fits 20, aspect 3:2 kept
    cy, cx = centre_of_mass(d)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # as measured on MNIST: (14, 14) ± half a pixel
    assert np.flatnonzero(d.any(1))[0] > 4  # mass high in the box: centred by mass, not by box


def test_lopsided_digit_is_kept_whole():
    d = to_mnist(seven())  # mass in the top bar: centring would cut the foot
    assert ink_box(d)[0] == 20 and d[27].max() > 0


@pytest.mark.parametrize("shape, long_axis", [((200, 10), 0), ((10, 200), 1)])
def test_aspect_ratio_is_kept(shape, long_axis):
    d = to_mnist(np.pad(np.ones(shape, np.float32), 5))  # a bar on a black margin
    box = ink_box(d)
    assert box[long_axis] == 20 and box[1 - long_axis] <= 3


def test_position_on_the_canvas_does_not_matter():
    digit = seven(90, 60)
    placed = []
    for top, left in [(0, 0), (40, 250), (300, 7)]:
        canvas = np.zeros((400, 320), np.float32)
        canvas[top : top + 90, left : left + 60] = digit
        placed.append(to_mnist(canvas))
    assert np.array_equal(placed[0], placed[1]) and np.array_equal(placed[0], placed[2])


def test_dark_on_light_is_inverted():
    g = seven()
    assert np.abs(to_mnist(1 - g).astype(int) - to_mnist(g)).max() <= 1


def test_low_contrast_photo_is_stretched():
    g = seven()
    photo = 0.75 - 0.35 * g + np.float32(0.02) * np.random.default_rng(0).random(g.shape, np.float32)
    assert np.abs(to_mnist(photo).astype(int) - to_mnist(g)).mean() < 3  # grey paper, grey pencil


def test_size_does_not_matter_much():
    small, large = to_mnist(seven(60, 40)), to_mnist(seven(600, 400))
    assert diff(small, large) < 8


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("mode, fmt", [("L", "PNG"), ("RGB", "PNG"), ("L", "JPEG"), ("RGB", "JPEG"), ("1", "PNG")])
def test_files_of_any_mode_read_alike(tmp_path, mode, fmt):
    g = 1 - seven()  # black on white, as on paper
    path = save(tmp_path / f"d.{fmt.lower()}", g, mode, format=fmt)
    grey, d = load_digit(path)
    assert grey.shape == g.shape and grey.dtype == np.float32
    assert np.abs(d.astype(int) - to_mnist(g)).mean() < (4 if fmt == "JPEG" else 1)


def test_colour_ink_on_coloured_paper(tmp_path):
    g = seven()[..., None]
    rgb = np.float32([250, 235, 190]) * (1 - g) + np.float32([30, 40, 170]) * g  # blue pen, yellow pad
    Image.fromarray(np.round(rgb).astype(np.uint8)).save(tmp_path / "c.png")
    assert np.abs(load_digit(tmp_path / "c.png")[1].astype(int) - to_mnist(seven())).mean() < 2


@pytest.mark.parametrize("ink", [0, 255])
def test_transparent_background_either_ink(tmp_path, ink):
    g = seven()
    rgba = np.zeros(g.shape + (4,), np.uint8)  # transparent black everywhere...
    rgba[..., :3] = ink
    rgba[..., 3] = np.round(g * 255).astype(np.uint8)  # ...except the strokes
    Image.fromarray(rgba).save(tmp_path / "t.png")
    assert np.abs(load_digit(tmp_path / "t.png")[1].astype(int) - to_mnist(g)).mean() < 2


def test_16_bit_png(tmp_path):
    g = 1 - seven()
    Image.fromarray(np.round(g * 65535).astype(np.uint16)).save(tmp_path / "d16.png")
    assert np.array_equal(load_digit(tmp_path / "d16.png")[1], to_mnist(g))


def test_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    photo = np.ones((2400, 3200), np.float32)
    photo[600:1800, 1200:2000] = 1 - seven(1200, 800)  # a black 7 on white paper
    path = save(tmp_path / "photo.jpg", photo, quality=90)
    grey, d = load_digit(path)
    assert grey.shape == (600, 800)  # 1/4 scale: shorter side still ≥ 512
    assert diff(d, to_mnist(seven())) < 4


def test_exif_orientation_is_applied(tmp_path):
    g = 1 - seven()
    img = Image.fromarray(np.round(g * 255).astype(np.uint8)).rotate(90, expand=True)  # stored on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    assert read_image(tmp_path / "phone.jpg").shape == g.shape


# ---------------------------------------------------------------- bad input: one line naming the file


def error_of(path, **kw):
    with pytest.raises(ImageError) as e:
        load_digit(path, **kw)
    message = str(e.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("my digits, to draw later\n")
    assert "not a PNG or JPEG image" in error_of(tmp_path / "notes.png")


def test_other_image_formats_are_refused(tmp_path):
    Image.new("L", (30, 30)).save(tmp_path / "d.gif")
    assert "not a PNG or JPEG image" in error_of(tmp_path / "d.gif")


def test_truncated_file(tmp_path):
    full = save(tmp_path / "full.png", seven()).read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    assert "cannot decode image" in error_of(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in error_of(tmp_path / "gone.png")
    (tmp_path / "dir.png").mkdir()
    assert "folder" in error_of(tmp_path / "dir.png")


@pytest.mark.parametrize("grey", [1.0, 0.0, 0.5])
def test_blank_image(tmp_path, grey):
    noise = np.float32(0.03) * np.random.default_rng(1).random((50, 40), np.float32)
    path = save(tmp_path / "blank.png", np.clip(grey + noise - 0.015, 0, 1))
    assert "blank image" in error_of(path)


@pytest.mark.parametrize(
    "width, height",
    [
        (8000, 6000),  # 48 MP: over our cap, under Pillow's own warning threshold
        (12000, 10000),  # 120 MP: Pillow would warn (DecompressionBombWarning, an error under pytest)
        (30000, 30000),  # 900 MP: Pillow would refuse with its own error
    ],
)
def test_enormous_image_is_refused_from_its_header(tmp_path, width, height):
    message = error_of(png_header_only(tmp_path / "huge.png", width, height))
    assert f"{width * height / 1e6:.1f} megapixels" in message and f"cap of {MAX_PIXELS / 1e6:g}" in message
    assert "refusing to decode" in message


def test_cap_is_a_parameter(tmp_path):
    path = save(tmp_path / "d.png", seven(40, 30))
    assert "over the cap" in error_of(path, max_pixels=1000)
    assert load_digit(path, max_pixels=1200)[1].shape == (28, 28)


def test_to_mnist_names_the_image_in_its_errors():
    with pytest.raises(ImageError, match="^scan-3: blank image"):
        to_mnist(np.ones((30, 30), np.float32), "scan-3")
    with pytest.raises(ImageError, match="^x: expected a 2-D grey image"):
        to_mnist(np.ones((3, 30, 30), np.float32), "x")


def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(error_of(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=20)  # reading the FIFO would wait for a writer forever
    assert not worker.is_alive(), "load_digit hangs on a FIFO"
    assert outcome == [f"{fifo}: not a regular file (a FIFO); refusing to read it"]


def test_device_is_refused():
    assert "not a regular file (a character device)" in error_of(Path("/dev/zero"))
    assert "not a regular file (a character device)" in error_of(Path("/dev/zero"), wait=5)  # not a pipe


def write_into(fifo, data: bytes) -> threading.Thread:
    """A thread that opens `fifo` for writing (blocking until a reader opens it), sends `data`, closes."""

    def write():
        try:
            with open(fifo, "wb") as f:
                f.write(data)
        except BrokenPipeError:  # the reader stopped reading: what an over-cap test wants
            pass

    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    return worker


def test_a_fifo_with_a_writer_is_read_when_waited_for(tmp_path):
    png = save(tmp_path / "seven.png", seven())
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    writer = write_into(fifo, png.read_bytes())
    grey, digit = load_digit(fifo, wait=60)
    writer.join(timeout=60)
    expected_grey, expected_digit = load_digit(png)
    assert np.array_equal(grey, expected_grey) and np.array_equal(digit, expected_digit)


def test_a_fifo_without_a_writer_is_refused_after_the_wait(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(error_of(fifo, wait=0.2)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "load_digit waits on a FIFO past its deadline"
    assert outcome == [f"{fifo}: no data arrived within 0.2 s; refusing to wait longer"]


def test_a_pipe_over_its_byte_cap_is_refused_in_one_line(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cap = pipe_cap(1000)  # 1 MB and 5 kB for a 1000-pixel cap
    write_into(fifo, save(tmp_path / "seven.png", seven()).read_bytes() + bytes(cap))
    assert error_of(fifo, max_pixels=1000, wait=60) == (
        f"{fifo}: more than {cap} bytes arrived through the pipe; refusing to read further"
    )


def test_the_pipe_cap_holds_the_largest_image_under_the_pixel_cap(tmp_path):
    """Random noise compresses worst: as an RGBA PNG and as a quality-100 JPEG without subsampling."""
    rng = np.random.default_rng(0)
    for mode, kw in (("RGBA", {"format": "PNG"}), ("RGB", {"format": "JPEG", "quality": 100, "subsampling": 0})):
        noise = Image.fromarray(rng.integers(0, 256, (300, 400, len(mode)), dtype=np.uint8), mode)
        noise.save(tmp_path / "noise", **kw)
        per_pixel = (tmp_path / "noise").stat().st_size / (300 * 400)
        assert 3.5 < per_pixel < (pipe_cap(MAX_PIXELS) - (1 << 20)) / MAX_PIXELS, (mode, per_pixel)


@pytest.mark.slow
def test_40_megapixel_rgba_png_stays_within_its_measured_memory(tmp_path):
    """The cap's worst case, as a transparent PNG: peak RSS of a fresh process that reads it (issue 11)."""
    w, h = 7300, 5470  # 39.9 megapixels, just under MAX_PIXELS
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = 20
    rgba[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3, 3] = 255  # an opaque block on a transparent sheet
    Image.fromarray(rgba).save(tmp_path / "big.png", compress_level=1)
    del rgba
    child = (
        "import resource, sys\nfrom nn.predict.preprocess import load_digit\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "grey, digit = load_digit(sys.argv[1])\n"
        "print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, *grey.shape)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path / "big.png")], capture_output=True, text=True, check=True, cwd=REPO
    )
    before_mb, peak_mb, gh, gw = map(int, proc.stdout.split())
    assert max(gh, gw) <= READ_SIDE  # shrunk before the float copies
    # measured 345 MB (the decoded RGBA is 160 MB; Pillow's premultiplied copy as much again)
    assert peak_mb - before_mb < 400, f"peak {peak_mb} MB, {before_mb} MB before reading"
