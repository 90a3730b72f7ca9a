"""nn.predict.cli: your own digit images through a trained model, as a command.

The predict rule, which calls it through Snakemake: tests/workflow/test_predict_rule.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, SHARED_MNIST
from nn.report import figures as plots
from nn.mnist.data import to_inputs
from nn.mnist.idx import read_idx
from nn.model import mlp
from nn.serialize import save, write_npz
from nn.predict.cli import CSV_COLUMNS, caption, classify, load_model, main, to_csv, write_sheet
from nn.predict.preprocess import load_digit, pipe_cap
from nn.optim import SGD
from nn.train import FitConfig, TrainState, fit
from digits import BAD, GOOD, seven, write_grey
from test_preprocess import diff, write_into


# ---------------------------------------------------------------- accuracy on rendered test digits


def render(digit, canvas, size, at, ink, paper, fmt):
    """A 28×28 MNIST digit drawn at `size` px on a `canvas` (w, h) at `at`, ink/paper RGB colours."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255
    alpha = np.zeros((canvas[1], canvas[0], 1), np.float32)
    alpha[at[1] : at[1] + size, at[0] : at[0] + size, 0] = np.clip(big, 0, 1)
    rgb = np.float32(paper) + (np.float32(ink) - np.float32(paper)) * alpha  # (h, w, 3)
    out = io.BytesIO()
    Image.fromarray(np.round(rgb).astype(np.uint8)).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


VARIANTS = {  # name: (canvas (w, h), digit size, where, ink, paper, format)
    "28x28 grey, as MNIST": ((28, 28), 28, (0, 0), (255,) * 3, (0,) * 3, "PNG"),
    "64x64 black on white": ((64, 64), 64, (0, 0), (0,) * 3, (255,) * 3, "PNG"),
    "300x200 blue on yellow": ((300, 200), 180, (100, 12), (30, 40, 170), (250, 235, 190), "PNG"),
    "300x200 yellow on navy, JPEG": ((300, 200), 150, (20, 30), (255, 240, 120), (10, 20, 70), "JPEG"),
}


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="../shared/mnist is not beside the repo")
def test_rendered_test_digits_score_as_the_originals(tmp_path):
    train_x = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")[:4000]
    train_y = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")[:4000]
    test_x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")[:300]
    test_y = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")[:300]
    net = mlp([784, 32, 10], activation="relu", output="softmax", init="he", rng=1)
    fit(
        net,
        SGD(net, lr=0.1, momentum=0.9),
        (to_inputs(train_x), train_y),
        FitConfig(epochs=2, batch_size=64),
        [TrainState(np.random.default_rng(1))],
    )
    save(net, tmp_path / "model.npz")
    net = load_model(tmp_path / "model.npz")
    original = float(
        np.mean(net.predict_proba(to_inputs(test_x)).argmax(axis=-1)[0] == test_y)
    )  # a stack of one: its network
    assert original > 0.85  # the model learned something
    for name, variant in VARIANTS.items():
        folder = tmp_path / name.replace(" ", "_").replace(",", "")
        folder.mkdir()
        paths = []
        for i, digit in enumerate(test_x):
            paths.append(folder / f"{i:03d}.{variant[-1].lower()}")
            paths[-1].write_bytes(render(digit, *variant))
        results = classify(net, paths)
        assert all(r.error is None for r in results)
        rendered = float(np.mean([r.predicted for r in results] == test_y))
        assert rendered >= original - 0.03, f"{name}: {rendered:.3f} against {original:.3f} on the originals"


# ---------------------------------------------------------------- batch logic


def test_classify_keeps_order_and_survives_bad_images(model_path, mixed_folder):
    net = load_model(model_path)
    paths = sorted(mixed_folder.iterdir())
    results = classify(net, paths)
    assert [r.file for r in results] == [str(p) for p in paths]
    errors = {p.name: r.error for p, r in zip(paths, results)}
    assert all(errors[n] is None for n in GOOD)
    assert errors["d-notes.png"] == "not a PNG or JPEG image"
    assert errors["e-blank.png"].startswith("blank image")
    assert "megapixels, over the cap" in errors["f-huge.png"]
    for r in results:
        if r.error is None:
            # the model saw exactly the preprocessed digit on the training scale
            digit = load_digit(r.file)[1]
            assert np.array_equal(r.digit, digit)
            # (BLAS may round a batch of one differently from a batch of three: last bits only)
            assert r.output.shape == (10,)
            np.testing.assert_allclose(r.output, net.predict_proba(to_inputs(digit[None]))[0][0], rtol=1e-5)
            assert [k for k, _ in r.top] == list(np.argsort(-r.output, kind="stable")[:3])
            assert r.predicted == int(r.output.argmax()) and r.confidence == r.top[0][1]
            assert r.thumb.shape[0] <= 96 and r.thumb.shape[1] <= 96
        else:
            assert r.output is None and r.digit is None and r.predicted is None


def test_classify_scales_as_the_model_was_trained(model_path, mixed_folder):
    net = load_model(model_path)
    paths = [p for p in sorted(mixed_folder.iterdir()) if p.name in GOOD]
    digits = np.stack([load_digit(p)[1] for p in paths])
    for scaling in ("raw", "max_standardise"):  # max_standardise: over the images given, as for a test set
        outputs = np.stack([r.output for r in classify(net, paths, scaling=scaling)])
        assert outputs.shape == (len(paths), 10)
        np.testing.assert_allclose(outputs, net.predict_proba(to_inputs(digits, scaling=scaling))[0], rtol=1e-5)


def test_all_bad_images_still_give_results(model_path, mixed_folder):
    results = classify(load_model(model_path), [mixed_folder / n for n in BAD])
    assert [r.error is not None for r in results] == [True] * 3


def test_csv_has_a_row_per_image_and_is_reproducible(model_path, mixed_folder):
    paths = sorted(mixed_folder.iterdir())
    text = to_csv(classify(load_model(model_path), paths), [p.name for p in paths])
    assert text == to_csv(classify(load_model(model_path), paths), [p.name for p in paths])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == CSV_COLUMNS and [r["file"] for r in rows] == [p.name for p in paths]
    for r in rows:
        if r["file"] in GOOD:
            assert r["error"] == "" and r["predicted"] in "0123456789"
            assert float(r["confidence"]) >= float(r["second_confidence"]) >= float(r["third_confidence"])
        else:
            assert r["error"] and r["predicted"] == r["confidence"] == r["third"] == ""


def test_wrong_model_shape_is_a_model_error(tmp_path):
    save(mlp([100, 10], rng=1), tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"m\.npz: the model maps 100 inputs to 10 outputs"):
        load_model(tmp_path / "m.npz")


# ---------------------------------------------------------------- the command


def test_command_prints_each_image(model_path, mixed_folder, capsys):
    paths = [str(mixed_folder / n) for n in GOOD + BAD]
    assert main([str(model_path), *paths]) == 1  # some images failed
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3
    for path, line in zip(paths, lines):
        assert line.startswith(f"{path}: ") and "confidence" in line and "top 3:" in line
    assert [line.split(": error: ")[0] for line in err.splitlines()] == paths[3:]


def test_command_json(model_path, mixed_folder, capsys):
    paths = [str(mixed_folder / n) for n in ("a-seven.png", "e-blank.png")]
    assert main(["--json", str(model_path), *paths]) == 1
    good, bad = json.loads(capsys.readouterr().out)
    assert good["file"] == paths[0] and good["predicted"] == good["top"][0]["class"]
    assert len(good["top"]) == 3 and good["confidence"] == good["top"][0]["output"]
    assert sum(t["output"] for t in good["top"]) <= 1 + 1e-6  # softmax probabilities
    assert bad == {"file": paths[1], "error": bad["error"]} and bad["error"].startswith("blank image")
    assert main(["--json", str(model_path), paths[0]]) == 0


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", None])
def test_command_refuses_a_bad_model_in_one_line(tmp_path, mixed_folder, capsys, content):
    bad = tmp_path / "bad.npz"
    if content is not None:
        bad.write_bytes(content)
    assert main([str(bad), str(mixed_folder / "a-seven.png")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"nn-predict: {bad}: ")


def test_runs_as_a_module(model_path, mixed_folder):
    proc = subprocess.run(
        [sys.executable, "-m", "nn.predict.cli", str(model_path), str(mixed_folder / "a-seven.png")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith(str(mixed_folder / "a-seven.png"))


def test_command_refuses_a_model_nested_100000_deep_in_one_line(tmp_path, mixed_folder):
    """Python's JSON parser recurses once per level: unchecked, this ended in a RecursionError traceback."""
    model = tmp_path / "deep.npz"
    write_npz(model, {"architecture": np.frombuffer(b'{"layers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", np.uint8)})
    proc = subprocess.run(
        [sys.executable, "-m", "nn.predict", str(model), str(mixed_folder / "a-seven.png")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr == (
        f"nn-predict: {model}: architecture: JSON nested 100001 levels deep, over the limit of 100; "
        "refusing to parse it\n"
    )


def test_command_reads_an_image_from_process_substitution(model_path, mixed_folder):
    """`nn-predict model.npz <(cat digit.png)`: the image is a pipe, /dev/fd/63, read whole."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash for <(...)")
    proc = subprocess.run(
        [
            bash,
            "-c",
            f"{shlex.quote(sys.executable)} -m nn.predict {shlex.quote(str(model_path))} "
            f"<(cat {shlex.quote(str(mixed_folder / 'a-seven.png'))})",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert proc.stdout.count("\n") == 1 and re.fullmatch(r"/dev/fd/\d+: \d \(confidence .*\)\n", proc.stdout)


def test_command_reads_a_fifo_with_a_writer(model_path, mixed_folder, capsys):
    fifo = mixed_folder / "pipe.png"
    os.mkfifo(fifo)
    writer = write_into(fifo, (mixed_folder / "a-seven.png").read_bytes())
    assert main([str(model_path), str(fifo), str(mixed_folder / "a-seven.png")]) == 0
    writer.join(timeout=60)
    out, err = capsys.readouterr()
    piped, filed = out.splitlines()
    assert err == "" and piped.removeprefix(f"{fifo}: ") == filed.removeprefix(f"{mixed_folder / 'a-seven.png'}: ")


def test_command_refuses_a_fifo_without_a_writer_after_its_wait_in_one_line(model_path, mixed_folder, capsys):
    fifo = mixed_folder / "pipe.png"
    os.mkfifo(fifo)
    assert main(["--wait", "0.2", str(model_path), str(fifo), str(mixed_folder / "a-seven.png")]) == 1
    out, err = capsys.readouterr()
    assert err == f"{fifo}: error: no data arrived within 0.2 s; refusing to wait longer\n"
    assert out.startswith(str(mixed_folder / "a-seven.png"))


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_command_refuses_a_wait_that_is_not_a_positive_number(model_path, mixed_folder, capsys, value):
    with pytest.raises(SystemExit):
        main(["--wait", value, str(model_path), str(mixed_folder / "a-seven.png")])
    assert capsys.readouterr().err.endswith(f"argument --wait: {value!r} is not a positive number of seconds\n")


def test_an_image_over_the_pipe_cap_is_an_error_of_its_own(model_path, mixed_folder):
    fifo = mixed_folder / "pipe.png"
    os.mkfifo(fifo)
    write_into(fifo, bytes(pipe_cap(10_000) + 1))
    bad, good = classify(load_model(model_path), [fifo, mixed_folder / "a-seven.png"], max_pixels=10_000, wait=60)
    assert bad.error == f"more than {pipe_cap(10_000)} bytes arrived through the pipe; refusing to read further"
    assert good.error is None


# ---------------------------------------------------------------- --explain


def test_explain_writes_the_sheet_for_the_images_given(model_path, mixed_folder, tmp_path, capsys):
    paths = [str(mixed_folder / n) for n in ("a-seven.png", "b-ring.JPG", "e-blank.png")]
    sheet = tmp_path / "out" / "why.png"
    assert main(["--explain", str(sheet), str(model_path), *paths]) == 1  # the blank one failed
    assert capsys.readouterr().out.count("\n") == 2  # the usual lines too
    first = sheet.read_bytes()
    with Image.open(sheet) as img:
        assert img.size[0] > 400
        pixels = np.asarray(img.convert("L"))
    assert main(["--explain", str(sheet), str(model_path), *paths]) == 1
    assert sheet.read_bytes() == first  # same images, same bytes
    # It is the sheet of exactly these images: the rule's writer, given the same results, draws the same.
    results = classify(load_model(model_path), paths)
    write_sheet(
        tmp_path / "direct.png",
        results,
        ["a-seven.png", "b-ring.JPG", "e-blank.png"],
        "model.npz: each image beside the digit it saw",
    )
    assert (tmp_path / "direct.png").read_bytes() == first
    assert pixels.std() > 10  # not an empty page
    assert [p.name for p in sheet.parent.iterdir()] == ["why.png"]  # no temp file left


def test_explain_shows_what_the_model_saw(model_path, tmp_path, capsys):
    """Two images whose digits preprocess alike give sheets that differ only in their originals."""
    on_ruled = np.ones((240, 320), np.float32)
    on_ruled[::30] = 0.6  # ruled paper
    on_ruled[60:180, 120:200] = np.minimum(on_ruled[60:180, 120:200], 1 - seven())
    write_grey(tmp_path / "ruled.png", on_ruled)
    write_grey(tmp_path / "clean.png", 1 - seven())
    assert main(["--explain", str(tmp_path / "s.png"), str(model_path), str(tmp_path / "ruled.png")]) == 0
    results = classify(load_model(model_path), [tmp_path / "ruled.png", tmp_path / "clean.png"])
    assert diff(results[0].digit, results[1].digit) < 6  # the lines are gone


@pytest.mark.parametrize(
    "args, message",
    [
        (["--explain", "sheet.gif"], "the sheet's name must end in .png, .pdf, .svg"),
    ],
)
def test_explain_refuses_a_format_it_cannot_write(model_path, mixed_folder, capsys, args, message):
    with pytest.raises(SystemExit):
        main([*args, str(model_path), str(mixed_folder / "a-seven.png")])
    assert message in capsys.readouterr().err


def test_explain_into_an_unwritable_place_is_one_line(model_path, mixed_folder, tmp_path, capsys):
    (tmp_path / "file").write_text("a file, not a folder\n")
    target = tmp_path / "file" / "sheet.png"
    assert main(["--explain", str(target), str(model_path), str(mixed_folder / "a-seven.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"nn-predict: {target}: cannot write the sheet")


# ---------------------------------------------------------------- the contact sheet


def test_contact_sheet_is_reproducible(model_path, mixed_folder, tmp_path):
    paths = sorted(mixed_folder.iterdir())
    results = classify(load_model(model_path), paths)
    args = (
        [r.thumb for r in results],
        [r.digit for r in results],
        [caption(r, p.name) for r, p in zip(results, paths)],
        [r.error is not None for r in results],
        "test",
    )
    plots.contact_sheet(tmp_path / "a.png", *args)
    plots.contact_sheet(tmp_path / "b.png", *args)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with Image.open(tmp_path / "a.png") as sheet:
        assert sheet.size[0] > 400
    plots.contact_sheet(tmp_path / "empty.png", [], [], [], [], "none")
    assert (tmp_path / "empty.png").stat().st_size > 0
