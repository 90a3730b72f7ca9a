"""nn.mnist.http: a mirror URL's credentials redacted as urllib reads them, and the attempt's deadline."""

import base64
import socket
import time

import pytest

from nn.mnist.http import Deadline, split_credentials


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://me:p@ss@host/mnist/", "http://***@host/mnist/"),  # a raw @ in the password
        ("https://u:a@b@c@host:81/x?q=1", "https://***@host:81/x?q=1"),
        ("http://host/path?mail=a@b.org", "http://host/path?mail=a@b.org"),  # an @ after the authority
        ("see http://u:pw@h/ and mail me@example.org", "see http://***@h/ and mail me@example.org"),
    ],
)
def test_redact_takes_the_userinfo_up_to_its_last_at_as_urllib_does(url, shown):
    import urllib.parse
    from nn.mnist.http import redact

    assert redact(url) == shown
    parts = urllib.parse.urlsplit(url.split()[1] if url.startswith("see") else url)
    assert parts.password is None or parts.password not in redact(url)


@pytest.mark.parametrize(
    "url, clean, user_pass",
    [
        ("http://example.org/mnist/", "http://example.org/mnist/", None),
        ("https://me:secret@example.org:8443/a", "https://example.org:8443/a", "me:secret"),
        ("http://me:p@ss@example.org/", "http://example.org/", "me:p@ss"),
        ("http://me%40work:a%2Fb@[::1]:8080/x", "http://[::1]:8080/x", "me@work:a/b"),
    ],
)
def test_split_credentials_takes_them_out_of_the_url_as_a_basic_header(url, clean, user_pass):
    got_url, header = split_credentials(url)
    assert got_url == clean
    if user_pass is None:
        assert header is None
    else:
        assert header == "Basic " + base64.b64encode(user_pass.encode()).decode("ascii")
        assert "@" not in got_url


def test_a_deadline_shuts_the_sockets_it_watches_when_it_passes():
    a, b = socket.socketpair()
    with a, b:
        with Deadline(0.2) as deadline:
            deadline.watch(a)
            assert 0 < deadline.left() <= 0.2
            start = time.monotonic()
            assert a.recv(1) == b""  # would block for good: the deadline shuts it down
            assert 0.1 < time.monotonic() - start < 5
            assert deadline.expired and deadline.left() == 0.0
            c, d = socket.socketpair()
            with c, d:
                deadline.watch(c)  # watched after the deadline passed: shut at once
                assert c.recv(1) == b""


def test_a_deadline_left_alone_shuts_nothing():
    a, b = socket.socketpair()
    with a, b:
        with Deadline(30) as deadline:
            deadline.watch(a)
            b.sendall(b"x")
            assert a.recv(1) == b"x"
        assert not deadline.expired
