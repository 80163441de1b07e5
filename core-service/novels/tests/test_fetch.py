"""The URL import's safe fetcher (novels/fetch.py) against a real HTTP server
on 127.0.0.1 (a thread) and names that resolve to private ranges
(socket.getaddrinfo monkeypatched)."""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from novels import fetch as fetch_module
from novels.fetch import FetchRefused, address_refusal, fetch
from novels.tests.epub_factory import simple_epub

TEXT = (
    "Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail. " * 5
).encode()
EPUB = simple_epub()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    seen_hosts: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Length": str(len(body)), **(headers or {})}
        for name, value in headers.items():
            if value is not None:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Handler.seen_hosts.append(self.headers.get("Host", ""))
        path = self.path
        if path == "/book.txt":
            self._send(200, TEXT, {"Content-Type": "text/plain; charset=utf-8"})
        elif path == "/page":
            page = (
                b"<html><head><title>A Page</title><script>evil()</script></head><body><p>" + TEXT + b"</p>"
            )
            self._send(200, page, {"Content-Type": "text/html"})
        elif path == "/book.epub":
            self._send(200, EPUB, {"Content-Type": "application/octet-stream"})
        elif path == "/blob.bin":
            self._send(200, TEXT, {"Content-Type": "application/octet-stream"})
        elif path == "/image":
            self._send(200, b"\x89PNG....", {"Content-Type": "image/png"})
        elif path == "/gzip":
            self._send(200, TEXT, {"Content-Type": "text/plain", "Content-Encoding": "gzip"})
        elif path == "/big":
            self._send(200, TEXT * 10, {"Content-Type": "text/plain"})
        elif path == "/big-unsized":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(TEXT)
        elif path == "/missing":
            self._send(404, b"no")
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/book.txt" if left == 0 else f"/hop/{left - 1}"
            self._send(302, headers={"Location": target})
        elif path == "/to-private":
            self._send(302, headers={"Location": "http://10.1.2.3/book.txt"})
        elif path == "/to-metadata-name":
            self._send(302, headers={"Location": "http://metadata.evil.test/latest/meta-data/"})
        elif path == "/to-file":
            self._send(302, headers={"Location": "file:///etc/passwd"})
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(40):  # one byte every 0.1 s: each read is quick, the whole is not
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
        elif path == "/silent":
            time.sleep(3)
            self._send(200, TEXT, {"Content-Type": "text/plain"})
        else:
            self._send(404, b"")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def names(monkeypatch):
    """Names that resolve where a test says (anything else: the real resolver)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            out = []
            for ip in table[host]:
                family = socket.AF_INET6 if ":" in ip else socket.AF_INET
                sockaddr = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
                out.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return out
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


def get(url: str, **kwargs):
    kwargs.setdefault("max_bytes", 10_000)
    kwargs.setdefault("allow_loopback", True)
    return fetch(url, **kwargs)


# --- the happy path (loopback allowed, as in tests only) ---------------------------------


def test_text_is_fetched_with_its_type_and_charset(server):
    fetched = get(f"{server}/book.txt")
    assert (fetched.data, fetched.kind, fetched.charset, fetched.filename) == (
        TEXT,
        "text",
        "utf-8",
        "book.txt",
    )


def test_html_and_epub_by_suffix(server):
    assert get(f"{server}/page").kind == "html"
    fetched = get(f"{server}/book.epub")
    assert (fetched.kind, fetched.data) == ("epub", EPUB)


def test_redirects_are_followed_up_to_five(server):
    fetched = get(f"{server}/hop/4")  # 5 redirects, then the book
    assert fetched.data == TEXT and fetched.url.endswith("/book.txt")
    with pytest.raises(FetchRefused, match="redirects more than 5 times"):
        get(f"{server}/hop/5")


def test_the_name_goes_in_the_host_header_while_the_checked_ip_is_dialled(server, names):
    port = server.rsplit(":", 1)[1]
    names["books.example.test"] = ["127.0.0.1"]
    Handler.seen_hosts.clear()
    assert get(f"http://books.example.test:{port}/book.txt").data == TEXT
    assert Handler.seen_hosts == [f"books.example.test:{port}"]


# --- refusals ----------------------------------------------------------------------------


def test_loopback_is_refused_by_default(server):
    with pytest.raises(FetchRefused, match=re.escape("resolves to 127.0.0.1, a loopback address")):
        get(f"{server}/book.txt", allow_loopback=False)


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_names_resolving_to_non_public_addresses_are_refused(names, ip, kind):
    names["evil.test"] = [ip]
    with pytest.raises(FetchRefused, match=f"a {kind.replace('(', '.').replace(')', '.')} address"):
        fetch("http://evil.test/book.txt", max_bytes=1000)


def test_any_private_address_among_several_refuses(names):
    names["mixed.test"] = ["93.184.216.34", "10.0.0.1"]
    with pytest.raises(FetchRefused, match=re.escape("10.0.0.1, a private address")):
        fetch("http://mixed.test/", max_bytes=1000)


def test_loopback_permission_never_lets_private_ranges_through(names):
    names["internal.test"] = ["10.0.0.1"]
    with pytest.raises(FetchRefused, match="private"):
        get("http://internal.test/")


def test_public_addresses_pass_the_check():
    assert address_refusal("93.184.216.34") is None
    assert address_refusal("2606:2800:220:1:248:1893:25c8:1946") is None
    assert address_refusal("127.0.0.1", allow_loopback=True) is None


def test_a_redirect_to_a_private_address_is_refused(server):
    with pytest.raises(FetchRefused, match=re.escape("10.1.2.3, a private address")):
        get(f"{server}/to-private")


def test_a_redirect_to_a_name_of_the_metadata_service_is_refused(server, names):
    names["metadata.evil.test"] = ["169.254.169.254"]
    with pytest.raises(FetchRefused, match=re.escape("169.254.169.254, a link-local address")):
        get(f"{server}/to-metadata-name")


def test_a_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(FetchRefused, match="Only http and https"):
        get(f"{server}/to-file")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/book.txt", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)"]
)
def test_other_schemes_are_refused(url):
    with pytest.raises(FetchRefused, match="Only http and https"):
        fetch(url, max_bytes=1000)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:pw@example.com/", "user name or password"),
        ("http:///nohost", "no host name"),
        ("http://example.com:99999/", "not valid"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(FetchRefused, match=message):
        fetch(url, max_bytes=1000)


def test_unresolvable_names_are_refused(names):
    with pytest.raises(FetchRefused, match="cannot be resolved"):
        fetch("http://no-such-host.invalid/", max_bytes=1000)


def test_too_big_by_content_length_and_by_stream(server):
    with pytest.raises(FetchRefused, match="larger than 1000 bytes"):
        get(f"{server}/big", max_bytes=1000)
    with pytest.raises(FetchRefused, match="larger than 1000 bytes"):
        get(f"{server}/big-unsized", max_bytes=1000)


@pytest.mark.parametrize(
    ("path", "shown"), [("/image", "image/png"), ("/blob.bin", "application/octet-stream")]
)
def test_wrong_content_types_are_refused(server, path, shown):
    with pytest.raises(FetchRefused, match=f"content type \\({shown}\\) is not accepted"):
        get(f"{server}{path}")


def test_compressed_bodies_and_error_statuses_are_refused(server):
    with pytest.raises(FetchRefused, match="compressed body"):
        get(f"{server}/gzip")
    with pytest.raises(FetchRefused, match="answered 404"):
        get(f"{server}/missing")


def test_a_slow_server_is_cut_at_the_total_timeout(server):
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="did not answer within 1 seconds"):
        get(f"{server}/slow", total_timeout=1)
    assert time.monotonic() - started < 2.5


def test_a_silent_server_is_cut_at_the_total_timeout(server):
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="did not answer within 1 seconds"):
        get(f"{server}/silent", total_timeout=1)
    assert time.monotonic() - started < 2.5


def test_connection_refused_is_a_refusal():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens
    with pytest.raises(FetchRefused, match="Could not connect"):
        get(f"http://127.0.0.1:{port}/")


def test_the_connect_timeout_applies(monkeypatch, names):
    names["blackhole.test"] = ["93.184.216.34"]

    def hang(self, address):
        raise TimeoutError

    monkeypatch.setattr(fetch_module.socket.socket, "connect", hang)
    with pytest.raises(FetchRefused, match="timed out"):
        fetch("http://blackhole.test/", max_bytes=1000)
