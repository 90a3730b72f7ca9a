"""Fetch one gzip'd file from a list of mirrors, verified by the checksum of its payload.

A mirror is an http(s) URL, a file:// URL or a local folder (relative to the current
directory); the file is `<mirror>/<filename>`. Mirrors are tried in order; the first
whose file passes every check is written to `dest` (temp name, then rename), so
nothing unverified is ever left there. The SHA-256 is of the DECOMPRESSED payload: a
mirror that recompressed the same data is fine, any other content is not.

Failures come in two kinds. Transient ones (timeouts, dropped connections, HTTP 5xx)
are retried on the same mirror with exponential backoff, a bounded number of times.
Permanent ones (404, an HTML page, a checksum mismatch, too large) move straight on
to the next mirror. Standard library only.

Time is bounded twice (nn/mnist/http.py): one attempt gets one deadline for DNS, connect,
headers and body (default 4 x timeout), and one file gets one deadline for every mirror,
attempt and backoff together (default 10 x timeout: 5 minutes with the default 30 s).
Credentials in a mirror URL are used, and written nowhere: every line is redacted.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException
from pathlib import Path

from nn.fileio import write_bytes
from nn.mnist.http import Deadline, DeadlinePassed, open_url, redact
from nn.mnist.idx import GZIP_MAGIC, IdxError, gunzip

NETWORK_READ_BYTES = 1 << 16
USER_AGENT = "mnist-from-scratch/0.1 (+urllib)"
LOCAL_COPY_HINT = (
    "To use a local copy, put the four MNIST .gz files in a folder and run:\n"
    "  snakemake --cores 4 --config mnist_mirror=/path/to/folder"
)


class DownloadError(OSError):
    """Every mirror failed. First line says so; one line per mirror says why."""


class _Permanent(Exception):
    """This mirror cannot serve the file; try the next one."""


class _Transient(Exception):
    """This attempt failed in a way that may not recur; retry the same mirror."""


def fetch(
    filename,
    mirrors,
    sha256,
    dest,
    *,
    log=print,
    timeout=30,
    retries=3,
    backoff=1.0,
    max_bytes=100_000_000,
    attempt_timeout=None,
    total_timeout=None,
):
    """Download `filename` from the first good mirror to `dest`; return `dest` as a Path.

    timeout: seconds for a connect or any single read.
    attempt_timeout: one deadline for a whole attempt: DNS, connect, headers and body
        (default 4 x timeout), against a server that trickles bytes just fast enough never
        to trip `timeout`.
    total_timeout: one deadline for the file across every mirror, attempt and backoff
        (default 10 x timeout = 5 minutes); each mirror gets an equal share of the time left.
    retries: attempts per mirror (at least 1); waits backoff, 2*backoff, ... between them.
    max_bytes: cap on the download and, separately, on the decompressed payload.
    """
    dest = Path(dest)
    attempts = max(1, int(retries))
    attempt_timeout = 4 * timeout if attempt_timeout is None else attempt_timeout
    total_timeout = 10 * timeout if total_timeout is None else total_timeout
    file_end = time.monotonic() + total_timeout
    raw_log, log = log, (lambda line: raw_log(redact(line)))  # no credential in any line
    failures = []
    for i, mirror in enumerate(mirrors):
        shown = redact(mirror)
        left = file_end - time.monotonic()
        if left <= 0:
            log(f"{filename}: {shown}: not tried: the {total_timeout:.3g} s for this file ran out")
            failures.append(f"  {shown}: not tried: the {total_timeout:.3g} s for this file ran out")
            continue
        # an equal share of the time left, so one trickling mirror cannot starve the good ones after it
        mirror_end = time.monotonic() + left / (len(mirrors) - i)
        try:
            data = _from_mirror(
                mirror, filename, sha256, log, timeout, attempts, backoff, max_bytes, attempt_timeout, mirror_end
            )
        except _Permanent as e:
            log(f"{filename}: {shown}: failed: {e}")
            failures.append(redact(f"  {shown}: {e}"))
            continue
        write_bytes(dest, data)
        log(f"{filename}: verified and saved {len(data)} bytes from {shown} to {dest}")
        return dest
    if not failures:
        raise DownloadError(f"could not download {filename}: no mirrors given\n{LOCAL_COPY_HINT}")
    raise DownloadError(
        "\n".join(
            [
                f"could not download {filename}: every mirror failed ({len(failures)} tried)",
                *failures,
                LOCAL_COPY_HINT,
            ]
        )
    )


def _from_mirror(mirror, filename, sha256, log, timeout, attempts, backoff, max_bytes, attempt_timeout, end):
    """The verified gz bytes from one mirror, retrying transient failures until `end`; else _Permanent."""
    for attempt in range(1, attempts + 1):
        log(f"{filename}: trying {mirror} (attempt {attempt}/{attempts})")
        try:
            limit = min(attempt_timeout, end - time.monotonic())
            data = _read(mirror, filename, log, timeout, max_bytes, limit)
            return _verify(data, filename, sha256, max_bytes)
        except _Transient as e:
            wait = backoff * 2 ** (attempt - 1)
            if attempt < attempts and time.monotonic() + wait >= end:
                raise _Permanent(
                    f"{e} (gave up after {attempt} of {attempts} attempts: this mirror's share of "
                    "the time for the file ran out)"
                ) from None
            if attempt == attempts:
                raise _Permanent(f"{e} (gave up after {attempts} attempts)") from None
            log(f"{filename}: {mirror}: {e}; retrying in {wait:g} s")
            time.sleep(wait)


def _read(mirror, filename, log, timeout, max_bytes, attempt_timeout) -> bytes:
    """The raw bytes of `filename` from `mirror`, by the mirror's kind."""
    if "://" not in mirror:  # a plain folder, relative to the current directory
        return _read_local(Path(mirror).expanduser(), filename, max_bytes)
    scheme = urllib.parse.urlsplit(mirror).scheme.lower()
    if scheme == "file":
        folder = urllib.request.url2pathname(urllib.parse.urlsplit(mirror).path)
        return _read_local(Path(folder), filename, max_bytes)
    if scheme in ("http", "https"):
        url = mirror.rstrip("/") + "/" + urllib.parse.quote(filename)
        return _read_http(url, filename, log, timeout, max_bytes, attempt_timeout)
    raise _Permanent(f"unsupported URL scheme '{scheme}://' (use http://, https://, file:// or a folder path)")


def _read_local(folder: Path, filename, max_bytes) -> bytes:
    if folder.exists() and not folder.is_dir():
        raise _Permanent(f"{folder.resolve()} is a file, not a folder: give the folder that holds the four .gz files")
    if not folder.is_dir():
        raise _Permanent(f"folder {folder.resolve()} does not exist")
    path = folder / filename
    if not path.is_file():
        raise _Permanent(f"no file {filename} in folder {folder.resolve()}")
    size = path.stat().st_size
    if size > max_bytes:
        raise _Permanent(f"{path} is {size} bytes, over the cap of {max_bytes}")
    try:
        return path.read_bytes()
    except OSError as e:
        raise _Permanent(f"cannot read {path}: {e.strerror or e}") from None


def _read_http(url, filename, log, timeout, max_bytes, attempt_timeout) -> bytes:
    """GET `url` within the caps and one deadline; sort every failure into transient or permanent."""
    got = 0
    with Deadline(attempt_timeout) as deadline:
        try:
            with open_url(url, deadline, timeout, {"User-Agent": USER_AGENT}) as response:
                if deadline.expired:  # the headers were cut off, whatever http.client made of them
                    raise _Transient(f"no complete response headers within {attempt_timeout:.3g} s; aborted")
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                if length is not None and length > max_bytes:
                    raise _Permanent(f"Content-Length {length} is over the cap of {max_bytes} bytes")
                if "html" in response.headers.get("Content-Type", "").lower():
                    raise _Permanent(
                        f"served an HTML page (Content-Type {response.headers['Content-Type']}), not the file"
                    )
                chunks, next_report = [], 0
                while chunk := response.read1(NETWORK_READ_BYTES):  # whatever has arrived, so the deadline is checked
                    got += len(chunk)
                    if got > max_bytes:
                        raise _Permanent(f"sent more than the cap of {max_bytes} bytes; aborted")
                    chunks.append(chunk)
                    if got >= next_report:
                        next_report = _progress(log, filename, url, got, length)
                if deadline.expired:
                    raise _Transient(f"still downloading after {attempt_timeout:.3g} s ({got} bytes); aborted")
                if length is not None and got < length:
                    raise _Transient(f"connection closed after {got} of {length} bytes")
                log(f"{filename}: {got} bytes{' (100%)' if length else ''} from {url}")
                return b"".join(chunks)
        except urllib.error.HTTPError as e:  # before URLError: it is one
            problem = f"HTTP {e.code} {e.reason}"
            e.close()  # it holds the error page's open response
            if e.code >= 500 or e.code in (408, 429):
                raise _Transient(problem) from None
            raise _Permanent(problem) from None
        except (urllib.error.URLError, OSError, HTTPException) as e:  # timeouts and resets, also in the body
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            # first: the DNS lookup outlived the deadline, whether or not its timer has fired yet
            if isinstance(reason, DeadlinePassed):
                raise _Transient(f"{reason}; aborted") from None
            if deadline.expired:
                phase = (
                    f"still downloading after {attempt_timeout:.3g} s ({got} bytes)"
                    if got
                    else f"no complete response headers within {attempt_timeout:.3g} s"
                )
                raise _Transient(f"{phase}; aborted") from None
            raise _classify(reason) from None


def _classify(reason):
    """A socket-level failure: DNS and certificate failures will not fix themselves, the rest may."""
    if isinstance(reason, socket.gaierror):
        return _Permanent(f"cannot resolve host ({reason.strerror or reason})")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return _Permanent(f"TLS certificate not trusted ({reason.verify_message})")
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return _Transient("timed out waiting for the server")
    if isinstance(reason, str):
        return _Permanent(reason)
    return _Transient(f"connection failed ({getattr(reason, 'strerror', None) or reason})")


def _progress(log, filename, url, got, length) -> int:
    """Log one progress line; return the byte count at which to log the next."""
    if length:
        log(f"{filename}: {got}/{length} bytes ({100 * got // length}%) from {url}")
        return got + max(length // 10, NETWORK_READ_BYTES)
    log(f"{filename}: {got} bytes (size unknown) from {url}")
    return got + (4 << 20)


def _verify(data: bytes, filename, sha256, max_bytes) -> bytes:
    """Check that `data` is a gzip whose payload has the expected SHA-256; return it unchanged."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        raise _Permanent("served an HTML page, not the file (a portal or an error page?)")
    if data[:2] != GZIP_MAGIC:
        raise _Permanent(f"not a gzip file (starts with 0x{data[:4].hex() or 'nothing'})")
    try:
        payload = gunzip(data, filename, max_bytes)
    except IdxError as e:
        raise _Permanent(str(e).removeprefix(f"{filename}: ")) from None
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256.lower():
        raise _Permanent(f"checksum mismatch: payload SHA-256 {actual}, expected {sha256.lower()}")
    return data
