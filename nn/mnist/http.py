"""An HTTP(S) GET bounded by one deadline, and URLs with their credentials kept out of sight.

urllib's `timeout` applies to each socket call, so a server that sends its headers or its
body a byte at a time, just inside it, holds a download forever. Here one deadline covers
the DNS lookup, the connect (and TLS handshake), the headers and the body: when it passes,
the socket is shut down from a timer thread and whatever is blocked on it returns at once.

A mirror may carry credentials (`https://user:pass@host/mnist/`): they are sent as HTTP
Basic authentication to that host only (not to a redirect), and `redact` replaces them
with `***` wherever a URL is written (logs, errors, the report).
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
import urllib.parse
import urllib.request

# up to the LAST @ of the authority, as urllib splits it: a password may hold a raw "@"
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")


def redact(text: str) -> str:
    """`text` with the user:password part of every URL in it replaced by ***."""
    return _USERINFO.sub("***@", str(text))


def split_credentials(url: str) -> tuple[str, str | None]:
    """(url without user:password, the Basic Authorization header value or None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    user_pass = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password or '')}"
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return clean, "Basic " + base64.b64encode(user_pass.encode()).decode("ascii")


class DeadlinePassed(TimeoutError):
    """The attempt's deadline passed; the message says in which phase."""


class Deadline:
    """Shuts down every socket registered with it when `seconds` have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets, self._lock = [], threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def watch(self, sock):
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def _expire(self):
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def connect(self, address, timeout, source_address=None, *args):
        """socket.create_connection, with the DNS lookup and the socket under this deadline."""
        host, port = address[:2]
        found = {}

        def lookup():
            try:
                found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as e:
                found["error"] = e

        thread = threading.Thread(target=lookup, daemon=True)  # getaddrinfo cannot be interrupted
        thread.start()
        thread.join(self.left())
        if thread.is_alive():
            raise DeadlinePassed(f"no address for {host} within {self.seconds:g} s")
        if "error" in found:
            raise found["error"]
        error = None
        for family, kind, proto, _, addr in found["addresses"]:
            sock = self.watch(socket.socket(family, kind, proto))
            try:
                sock.settimeout(min(timeout, self.left()) if timeout is not None else self.left())
                if source_address:
                    sock.bind(source_address)
                sock.connect(addr)
                return sock
            except OSError as e:
                error = e
                sock.close()
        raise error or OSError(f"cannot connect to {host}")


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed or never connected
        pass


def _connection_class(base, deadline: Deadline):
    class Connection(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = deadline.connect  # http.client's hook for making the socket

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(_connection_class(http.client.HTTPConnection, self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(_connection_class(http.client.HTTPSConnection, self.deadline), req, context=self._context)


def open_url(url: str, deadline: Deadline, timeout: float, headers: dict):
    """urlopen(url) whose every socket, from DNS to the last body byte, is under `deadline`;
    credentials in the URL are sent to its host only. Returns the response."""
    clean, auth = split_credentials(url)
    request = urllib.request.Request(clean, headers=headers)
    if auth:
        request.add_unredirected_header("Authorization", auth)  # never forwarded to a redirect's host
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    return opener.open(request, timeout=min(timeout, max(deadline.left(), 0.001)))
