"""A safe fetcher for a reader's URL import (no server-side request forgery).

- http and https only; no credentials in the URL.
- The name is resolved here (socket.getaddrinfo) and refused when ANY of
  its addresses is not a public one: loopback, private, link-local,
  multicast, reserved, unspecified, shared (CGNAT 100.64/10), and the IPv4
  inside IPv6 forms (IPv4-mapped, 6to4, Teredo, NAT64 64:ff9b::/96) checked
  as IPv4. The socket then connects to the checked address itself, never
  to the name again (no DNS rebinding between check and connect); the name
  goes only into the Host header and the TLS SNI/certificate check.
- Redirects are followed by hand, at most MAX_REDIRECTS, each target
  checked exactly like the first URL.
- Time: CONNECT_TIMEOUT_SECONDS to connect, TOTAL_TIMEOUT_SECONDS for the
  whole fetch (a watchdog shuts the socket at the deadline, so a server
  dripping bytes cannot hold a worker).
- Size: Content-Length over the cap is refused before reading; the body is
  read in chunks and refused as soon as it passes the cap.
- Type: text/plain, text/markdown, text/html, application/epub+zip, or
  application/octet-stream (or none) for a path ending in .epub, .txt or .md.

`NOVEL_IMPORT_ALLOW_LOOPBACK` (tests only) lets loopback addresses through;
every other rule stays.
"""

from __future__ import annotations

import http.client
import ipaddress
import posixpath
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

MAX_REDIRECTS = 5
CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 20.0
CHUNK_BYTES = 64 * 1024
USER_AGENT = "GajiNovelImport/1.0 (+reader story import)"

TEXT_TYPES = {"text/plain": "text", "text/markdown": "text", "text/x-markdown": "text"}
HTML_TYPES = {"text/html": "html", "application/xhtml+xml": "html"}
EPUB_TYPES = {"application/epub+zip": "epub"}
SUFFIX_KINDS = {".epub": "epub", ".txt": "text", ".md": "text", ".markdown": "text"}
REDIRECTS = {301, 302, 303, 307, 308}

NAT64 = ipaddress.ip_network("64:ff9b::/96")
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class FetchRefused(ValueError):
    """The URL may not or could not be fetched; the message says which rule."""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    kind: str  # "text" | "html" | "epub"
    charset: str | None
    filename: str
    url: str  # after redirects


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _kind_of(address) -> str | None:
    """Why this address is not public, or None when it is."""
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.version == 4 and address in CGNAT:
        return "shared (CGNAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not public"
    return None


def address_refusal(ip: str, *, allow_loopback: bool = False) -> str | None:
    """Why `ip` may not be fetched from, or None when it may."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    candidates = [address]
    if address.version == 6:
        # The IPv4 inside first: its reason is the telling one (NAT64 of 169.254.169.254: link-local).
        candidates = [*_embedded_ipv4(address), address]
    for candidate in candidates:
        kind = _kind_of(candidate)
        if kind == "loopback" and allow_loopback:
            continue
        if kind is not None:
            return kind
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an acceptable URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchRefused("Only http and https URLs can be imported.")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("The URL may not contain a user name or password.")
    host = parts.hostname
    if not host:
        raise FetchRefused("The URL has no host name.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _resolve(host: str, port: int, *, allow_loopback: bool) -> list[tuple]:
    """Every address of `host`, all of them checked; refused when any is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise FetchRefused(f"The host name '{host}' cannot be resolved.") from None
    if not infos:
        raise FetchRefused(f"The host name '{host}' cannot be resolved.")
    for _family, _type, _proto, _canon, sockaddr in infos:
        why = address_refusal(str(sockaddr[0]), allow_loopback=allow_loopback)
        if why is not None:
            raise FetchRefused(
                f"The URL's host '{host}' resolves to {sockaddr[0]}, a {why} address: "
                "only public addresses can be fetched."
            )
    return infos


def size_text(count: int) -> str:
    """10 MB, 512 KB or 300 bytes: a limit as a reader reads it."""
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KB"
    return f"{count} bytes"


def _kind(content_type: str, path: str) -> str:
    main = content_type.split(";", 1)[0].strip().lower()
    suffix = posixpath.splitext(unquote(urlsplit(path).path).lower())[1]
    for table in (TEXT_TYPES, HTML_TYPES, EPUB_TYPES):
        if main in table:
            return table[main]
    if main in ("", "application/octet-stream") and suffix in SUFFIX_KINDS:
        return SUFFIX_KINDS[suffix]
    shown = main or "none"
    raise FetchRefused(
        f"The URL's content type ({shown}) is not accepted: text/plain, text/markdown, text/html or "
        "application/epub+zip (application/octet-stream only for a .epub, .txt or .md path)."
    )


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()[:40]
    return None


class _Deadline:
    """Shuts the socket down when the whole fetch's time is up."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.seconds = seconds
        self.expired = False
        self._timer: threading.Timer | None = None

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            self.expired = True
            raise FetchRefused(f"The URL did not answer within {self.seconds:g} seconds.")
        return left

    def watch(self, sock: socket.socket) -> None:
        def shut() -> None:
            self.expired = True
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

        self.cancel()
        self._timer = threading.Timer(max(self.ends - time.monotonic(), 0.0), shut)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _connect(infos: list[tuple], host: str, scheme: str, deadline: _Deadline, connect_timeout: float):
    """A socket connected to one of the checked addresses (TLS for https, to `host`)."""
    last_error: Exception | None = None
    for family, kind, proto, _canon, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(min(connect_timeout, deadline.left()))
            sock.connect(sockaddr)
            sock.settimeout(deadline.left())
            if scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            return sock
        except FetchRefused:
            sock.close()
            raise
        except ssl.SSLError as exc:
            sock.close()
            raise FetchRefused(
                f"The TLS connection to '{host}' failed ({exc.reason or 'handshake'})."
            ) from None
        except (TimeoutError, OSError) as exc:
            sock.close()
            last_error = exc
    if isinstance(last_error, TimeoutError):
        raise FetchRefused(f"Connecting to '{host}' timed out.")
    raise FetchRefused(f"Could not connect to '{host}'.")


def fetch(
    url: str,
    *,
    max_bytes: int,
    allow_loopback: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    total_timeout: float = TOTAL_TIMEOUT_SECONDS,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET `url` under every rule above; FetchRefused names the rule broken."""
    deadline = _Deadline(total_timeout)
    current = url
    for _hop in range(max_redirects + 1):
        scheme, host, port, path = _split(current)
        infos = _resolve(host, port, allow_loopback=allow_loopback)
        sock = _connect(infos, host, scheme, deadline, connect_timeout)
        deadline.watch(sock)
        connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = connection_class(host, port, timeout=deadline.left())
        connection.sock = sock  # connected to the checked address: never resolved again
        try:
            result = _exchange(connection, current, path, max_bytes=max_bytes, deadline=deadline)
        except FetchRefused:
            raise
        except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
            if deadline.expired or isinstance(exc, TimeoutError):
                raise FetchRefused(f"The URL did not answer within {total_timeout:g} seconds.") from None
            raise FetchRefused(
                "The server's answer could not be read (connection failed or not HTTP)."
            ) from None
        finally:
            deadline.cancel()
            connection.close()
        if isinstance(result, Fetched):
            return result
        current = result  # a redirect's target, checked on the next hop
    raise FetchRefused(f"The URL redirects more than {max_redirects} times.")


def _exchange(connection, url: str, path: str, *, max_bytes: int, deadline: _Deadline) -> Fetched | str:
    """One request: the document, or the next URL of a redirect."""
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
    except http.client.InvalidURL:
        raise FetchRefused("The URL is not valid.") from None
    connection.putheader("Accept-Encoding", "identity")
    connection.putheader(
        "Accept", "text/plain, text/markdown, text/html, application/epub+zip;q=0.9, */*;q=0.1"
    )
    connection.putheader("User-Agent", USER_AGENT)
    connection.endheaders()
    response = connection.getresponse()
    if response.status in REDIRECTS:
        location = response.getheader("Location")
        if not location:
            raise FetchRefused(f"The server answered {response.status} without a Location.")
        return urljoin(url, location.strip())
    if response.status != 200:
        raise FetchRefused(f"The server answered {response.status} {response.reason}".strip() + ".")
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused(
            f"The server sent a compressed body ({encoding[:40]}); it must be sent uncompressed."
        )
    content_type = response.getheader("Content-Type") or ""
    kind = _kind(content_type, url)
    too_big = FetchRefused(f"The document is larger than {size_text(max_bytes)}.")
    length = response.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise too_big
    chunks, size = [], 0
    while True:
        deadline.left()
        chunk = response.read(CHUNK_BYTES)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    if deadline.expired:
        raise FetchRefused(f"The URL did not answer within {deadline.seconds:g} seconds.")
    name = posixpath.basename(unquote(urlsplit(url).path)) or "download"
    return Fetched(data=b"".join(chunks), kind=kind, charset=_charset(content_type), filename=name, url=url)
