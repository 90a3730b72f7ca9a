"""IDX read/write: round trips for every type and shape, and one clear error per malformation."""

import gzip
import struct

import numpy as np
import pytest

from nn.mnist.idx import TYPES, IdxError, format_idx, gunzip, parse_idx, read_idx, write_idx

DTYPES = ["u1", "i1", "i2", "i4", "f4", "f8"]
SHAPES = [(7,), (3, 5), (4, 28, 28), (2, 3, 4, 5), (0, 28, 28)]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)  # full range, so sign and byte order errors would show
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def header(code, shape):
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, shape, suffix):
    a = sample(dtype, shape)
    path = tmp_path / f"x-idx{suffix}"
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable


def test_on_disk_layout_is_big_endian_as_mnist_defines_it(tmp_path):
    a = np.array([[1, 256], [-2, 65536]], dtype="<i4")
    data = format_idx(a)
    assert data[:4] == b"\x00\x00\x0c\x02"
    assert data[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x02"
    assert data[12:16] == b"\x00\x00\x00\x01" and data[16:20] == b"\x00\x00\x01\x00"
    assert len(data) == 12 + 4 * 4
    # a big-endian input array is written identically
    assert format_idx(a.astype(">i4")) == data


def test_gzip_detected_by_magic_not_name(tmp_path):
    a = sample("u1", (3, 4))
    plain_named_gz = tmp_path / "plain.gz"
    write_idx(plain_named_gz, a, compress=False)
    gz_named_plain = tmp_path / "packed-idx"
    write_idx(gz_named_plain, a, compress=True)
    np.testing.assert_array_equal(read_idx(plain_named_gz), a)
    np.testing.assert_array_equal(read_idx(gz_named_plain), a)


def test_compressed_output_is_byte_identical(tmp_path):
    a = sample("f4", (5, 6))
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "b.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_many_dimensions():
    a = np.arange(2 * 3, dtype="u1").reshape((1,) * 30 + (2, 3))
    np.testing.assert_array_equal(parse_idx(format_idx(a)), a)


def test_every_type_code_is_covered():
    assert sorted(TYPES) == [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]


GOOD = header(0x08, (2, 3)) + bytes(6)

MALFORMED = [
    ("bad magic", b"\x12\x34" + GOOD[2:], "bad magic 0x1234 (expected two zero bytes)"),
    ("bad type code", GOOD[:2] + b"\x0a" + GOOD[3:], "unknown type code 0x0A"),
    ("zero dimensions", b"\x00\x00\x08\x00", "zero dimensions"),
    ("short header", GOOD[:2], "truncated: 2 bytes"),
    ("header cut in sizes", GOOD[:9], "truncated: 2 dimensions need a 12-byte header, file has 9 bytes"),
    ("truncated data", GOOD[:-1], "truncated: header declares 6 data bytes, file has 5"),
    ("trailing data", GOOD + b"\x00\x00", "trailing data: header declares 6 data bytes, file has 8 (2 extra)"),
    ("truncated wide type", header(0x0E, (2,)) + bytes(15), "truncated: header declares 16 data bytes, file has 15"),
    ("absurd sizes", header(0x08, (0xFFFFFFFF,) * 3) + bytes(10), "truncated: header declares"),
    ("more dims than numpy holds", header(0x08, (1,) * 200) + b"\x07", "cannot hold 200 dimensions"),
]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("label,data,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_names_file_and_problem(tmp_path, label, data, message, compress):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IdxError) as e:
        read_idx(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_parse_idx_names_what_it_was_given():
    with pytest.raises(IdxError, match=r"^memory\.idx: bad magic"):
        parse_idx(b"\x01\x00\x08\x01\x00\x00\x00\x00", "memory.idx")


def test_corrupt_gzip_is_an_idx_error(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-6])
    with pytest.raises(IdxError, match=rf"^{path}: not a valid gzip stream"):
        read_idx(path)


def test_gunzip_cap_stops_a_bomb():
    bomb = gzip.compress(bytes(10_000_000))  # ~10 kB that inflates to 10 MB
    assert len(gunzip(bomb, "ok", max_bytes=10_000_000)) == 10_000_000
    with pytest.raises(IdxError, match=r"^bomb\.gz: decompresses to more than 1000 bytes"):
        gunzip(bomb, "bomb.gz", max_bytes=1000)


def test_gunzip_reads_every_member():
    # a recompressing mirror may write several gzip members; all of them are the payload
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), "multi") == b"abcd"


@pytest.mark.parametrize(
    "bad", [np.zeros(3, dtype="u2"), np.zeros(3, dtype="c8"), np.array(5, dtype="u1"), np.zeros(2, dtype=bool)]
)
def test_write_rejects_what_idx_cannot_hold(tmp_path, bad):
    path = tmp_path / "out-idx"
    with pytest.raises(IdxError, match=rf"^{path}: "):
        write_idx(path, bad)
    assert list(tmp_path.iterdir()) == []
