"""Download a URL someone else gave us (the service's video and model URLs) without trusting anything about it.

* http and https only; no credentials in the URL; at most ``max_redirects`` redirects, each hop checked again.
* Every address the host resolves to must be public (:func:`address_problem`); the connection then goes to
  an address that was checked. There is no second DNS lookup, so a name that resolves to a public address
  for the check and to 127.0.0.1 or 169.254.169.254 a moment later (DNS rebinding) cannot reach inside.
  ``allow_private`` (the service's ``--allow-private-urls``, for local testing) lets loopback and private
  networks through; link-local addresses (cloud metadata such as 169.254.169.254), known metadata
  addresses, multicast, unspecified and reserved ranges stay refused even then.
* The body is streamed to a temp file in the caller's folder and counted: more than ``max_bytes`` is refused
  whatever Content-Length says (a Content-Length over the cap is refused before the body is read).
* Connect and read timeouts per operation, and an overall deadline that closes the socket when it passes,
  so a server that drips one byte at a time is cut off too.
* The file gets a name of ours (never the URL's name or extension); on any failure nothing is left behind.

The standard library's http.client does the HTTP; we open its socket ourselves (to the checked address,
TLS verified against the URL's host name) and hand it over, which is what makes the pinning hold. Proxy
settings in the environment are ignored for the same reason.

Errors are :class:`FetchError` with a ``kind`` the service maps to a status code: ``invalid`` (bad or refused
URL, too big, not a video, not a model), ``timeout`` (deadline or a stalled server), ``unavailable`` (the
server could not be reached or failed; trying again later may work).
"""
from __future__ import annotations

import hashlib
import http.client
import ipaddress
import logging
import os
import re
import secrets
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

MB = 1024 * 1024
VIDEO_MAX_BYTES = 20 * MB
MODEL_MAX_BYTES = 320 * MB
MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
DEADLINE = 300.0
MAX_URL = 2048
_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)

INVALID, TIMEOUT, UNAVAILABLE = "invalid", "timeout", "unavailable"


class FetchError(FaceswapError):
    """A download refused or failed. ``kind``: ``invalid``, ``timeout`` or ``unavailable`` (see the module doc)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Download:
    """A finished download: our file, its size and SHA-256 (to spot an unchanged video), where it came from."""
    path: Path
    size: int
    sha256: str
    url: str                 # the URL that served the body, after redirects
    video: object = None     # lib.video.VideoInfo, set by fetch_video


# ------------------------------------------------------------------------------------------------ addresses
def _nets(*cidrs):
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Refused even with allow_private: nothing a user could mean, or the cloud's metadata service.
_NEVER = (
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("link-local", _nets("169.254.0.0/16", "fe80::/10")),
    ("cloud metadata", _nets("100.100.100.200/32", "fd00:ec2::254/128")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("broadcast", _nets("255.255.255.255/32")),
    ("reserved", _nets("240.0.0.0/4", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
                       "198.51.100.0/24", "203.0.113.0/24", "100::/64", "2001::/23", "2001:db8::/32",
                       "3fff::/20", "5f00::/16", "fec0::/10")),
)
# Refused unless allow_private.
_PRIVATE = (
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "64:ff9b:1::/48")),
    ("shared (carrier-grade NAT)", _nets("100.64.0.0/10")),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address reaches in the end (mapped, 6to4, NAT64), with the mechanism's name."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour:
        return ip.sixtofour, "6to4"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    return None


def address_problem(address, allow_private: bool = False) -> str | None:
    """Why ``address`` must not be fetched from (``"loopback"``, ``"link-local"`` ...), or None when it may.

    Our own tables come first (Python's ``is_global`` differs between versions and calls 6to4 and NAT64
    addresses of 127.0.0.1 global); anything else Python does not call global or calls reserved (such as
    the deprecated IPv4-compatible ``::a.b.c.d``) is refused as well.
    """
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner:
            problem = address_problem(inner[0], allow_private)
            return f"{problem} ({inner[1]} {inner[0]})" if problem else None
    for name, nets in _NEVER:
        if any(ip in net for net in nets):
            return name
    for name, nets in _PRIVATE:
        if any(ip in net for net in nets):
            return None if allow_private else name
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return "not public"
    return None


# ------------------------------------------------------------------------------------------------ URLs
@dataclass
class _Target:
    url: str
    scheme: str
    host: str                # IDNA-encoded, lower case; an IPv6 literal without brackets
    port: int
    path: str                # path and query, percent-encoded

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == {"http": 80, "https": 443}[self.scheme] else f"{host}:{self.port}"


def _parse(url: str) -> _Target:
    if not isinstance(url, str) or not url:
        raise FetchError(INVALID, "no URL given")
    shown = url if len(url) <= 200 else url[:200] + "..."
    if len(url) > MAX_URL:
        raise FetchError(INVALID, f"URL {shown} is longer than {MAX_URL} characters")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise FetchError(INVALID, f"URL {shown!r} holds spaces or control characters: percent-encode them")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise FetchError(INVALID, f"URL {shown} is malformed ({err})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(INVALID, f"URL {shown}: only http and https URLs are fetched, not '{scheme or 'none'}'")
    if parts.username is not None or parts.password is not None:
        raise FetchError(INVALID, f"URL {shown} carries a user name or password: give a URL without them")
    if not parts.hostname:
        raise FetchError(INVALID, f"URL {shown} names no host")
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        host = parts.hostname if _is_ip(parts.hostname) else ""
    if not host:
        raise FetchError(INVALID, f"URL {shown} has an invalid host name")
    if port == 0:
        raise FetchError(INVALID, f"URL {shown} has port 0")
    path = urllib.parse.quote(parts.path or "/", safe="/%!$&'()*+,;=:@~-._")
    if parts.query:
        path += "?" + urllib.parse.quote(parts.query, safe="/%!$&'()*+,;=:@~-._?")
    return _Target(url, scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------ deadline
class _Deadline:
    """The overall time limit of one fetch: :meth:`left` raises once it has passed, and a timer shuts the
    socket being read at that moment, so even a read that keeps getting one byte at a time ends."""

    def __init__(self, seconds: float, url: str):
        self.seconds, self.url = seconds, url
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def error(self) -> FetchError:
        return FetchError(TIMEOUT, f"downloading {self.url} took longer than the {self.seconds:g} s allowed")

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0 or self.expired:
            raise self.error()
        return remaining

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (a dup of it: the TLS wrapper takes over the original)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
            self._sock = sock.dup() if sock is not None else None
            if self.expired and self._sock is not None:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._timer.cancel()
        self.watch(None)


# ------------------------------------------------------------------------------------------------ fetching
def _resolve(target: _Target, allow_private: bool, deadline: _Deadline, timeout: float) -> list[str]:
    """Every address of the host, each checked; refused if any one is not allowed (the DNS answer decides
    nothing the connection could later change: we connect to these addresses only)."""
    if _is_ip(target.host):
        addresses = [str(ipaddress.ip_address(target.host))]
    else:
        result: dict = {}

        def lookup():
            try:
                result["infos"] = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as err:
                result["error"] = err

        thread = threading.Thread(target=lookup, daemon=True)
        thread.start()
        thread.join(min(timeout, deadline.left()))
        if thread.is_alive():
            deadline.left()
            raise FetchError(TIMEOUT, f"looking up {target.host} took longer than {timeout:g} s")
        err = result.get("error")
        if isinstance(err, socket.gaierror) and err.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            raise FetchError(INVALID, f"host {target.host} of {target.url} not found")
        if err is not None:
            raise FetchError(UNAVAILABLE, f"cannot look up host {target.host}: {err}")
        addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in result["infos"]))
        if not addresses:
            raise FetchError(INVALID, f"host {target.host} of {target.url} has no address")
    for address in addresses:
        problem = address_problem(address, allow_private)
        if problem:
            hint = "" if allow_private or problem.split(" ")[0] not in ("loopback", "private", "shared") else \
                " (a local test server needs the service's --allow-private-urls)"
            where = f"{address} is" if _is_ip(target.host) else f"{target.host} is at {address},"
            raise FetchError(INVALID, f"refused to fetch {target.url}: {where} a {problem} address; only public "
                                      f"addresses are fetched{hint}")
    return addresses


def _connect(target: _Target, addresses: list[str], deadline: _Deadline, connect_timeout: float,
             read_timeout: float) -> socket.socket:
    """A connected (and for https, verified TLS) socket to one of the checked ``addresses``."""
    errors = []
    for address in addresses:
        try:
            sock = socket.create_connection((address, target.port), timeout=min(connect_timeout, deadline.left()))
        except TimeoutError:
            errors.append(f"{address}: no answer in {connect_timeout:g} s")
            continue
        except OSError as err:
            errors.append(f"{address}: {err.strerror or err}")
            continue
        deadline.watch(sock)               # the deadline's timer bounds the whole exchange
        sock.settimeout(read_timeout)
        if target.scheme == "https":
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
            except ssl.SSLCertVerificationError as err:
                sock.close()
                raise FetchError(INVALID, f"the TLS certificate of {target.host} is not valid "
                                          f"({err.verify_message}): refusing {target.url}") from None
            except (OSError, ssl.SSLError) as err:
                sock.close()
                deadline.left()
                errors.append(f"{address}: TLS failed ({err})")
                continue
        return sock
    deadline.left()
    if errors and all("no answer" in e for e in errors):
        raise FetchError(TIMEOUT, f"cannot connect to {target.host_header}: " + "; ".join(errors))
    raise FetchError(UNAVAILABLE, f"cannot connect to {target.host_header}: " + "; ".join(errors))


def _request(sock: socket.socket, target: _Target) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(target.host, target.port)
    conn.sock = sock          # http.client sends over our socket and never makes its own connection
    conn.putrequest("GET", target.path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", target.host_header)
    conn.putheader("User-Agent", "faceswap-fetch/1")
    conn.putheader("Accept", "*/*")
    conn.putheader("Accept-Encoding", "identity")
    conn.putheader("Connection", "close")
    conn.endheaders()
    return conn.getresponse()


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


def _plain_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise FaceswapError(f"download name {name!r} must be a plain file name")
    return name


def fetch(url: str, dest_dir, *, max_bytes: int, allow_private: bool = False, name: str | None = None,
          connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
          deadline: float = DEADLINE, max_redirects: int = MAX_REDIRECTS) -> Download:
    """Download ``url`` into ``dest_dir`` under ``name`` (default ``download-<random hex>``, never the URL's).

    Raises FetchError (see the module doc); on failure nothing is left in ``dest_dir``.
    """
    dest_dir = Path(dest_dir)
    if not dest_dir.is_dir():
        raise FaceswapError(f"download folder {dest_dir} does not exist")
    final = dest_dir / _plain_name(name or f"download-{secrets.token_hex(8)}")
    target = _parse(url)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".fetch-", suffix=".part", dir=dest_dir)
    except OSError as err:
        raise FaceswapError(f"cannot write a download into {dest_dir}: {err.strerror or err}") from None
    tmp = Path(tmp)
    clock = _Deadline(deadline, target.url)
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = _download(target, out, max_bytes, allow_private, clock, connect_timeout, read_timeout,
                                     max_redirects)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        clock.close()
    return Download(final, size, digest, target.url)


def _download(target: _Target, out, max_bytes: int, allow_private: bool, clock: _Deadline,
              connect_timeout: float, read_timeout: float, max_redirects: int) -> tuple[int, str]:
    """Follow redirects to the body and write it to ``out``; returns (bytes, sha256). ``target`` is updated to
    the last hop (callers report the URL that served the file)."""
    first = target.url
    for hop in range(max_redirects + 1):
        addresses = _resolve(target, allow_private, clock, connect_timeout)
        sock = _connect(target, addresses, clock, connect_timeout, read_timeout)
        try:
            try:
                response = _request(sock, target)
                if response.status in _REDIRECTS:
                    location = response.getheader("Location")
                    if not location:
                        raise FetchError(INVALID, f"{target.url} redirects (HTTP {response.status}) but names no "
                                                  f"Location")
                    if hop == max_redirects:
                        raise FetchError(INVALID, f"{first} redirects more than {max_redirects} times: give the "
                                                  f"final URL")
                    new = _parse(urllib.parse.urljoin(target.url, location))
                    log.debug("fetch: %s redirects to %s", target.url, new.url)
                    target.url, target.scheme, target.host, target.port, target.path = \
                        new.url, new.scheme, new.host, new.port, new.path
                    continue
                _check_status(response, target)
                return _body(response, target, out, max_bytes, clock)
            except (TimeoutError, socket.timeout):
                clock.left()
                raise FetchError(TIMEOUT, f"{target.host_header} sent nothing for {read_timeout:g} s while "
                                          f"serving {target.url}") from None
            except (http.client.HTTPException, OSError) as err:
                clock.left()          # a socket shut by the deadline reads as a broken connection
                if isinstance(err, http.client.HTTPException) and not isinstance(
                        err, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
                    raise FetchError(INVALID, f"{target.host_header} sent a malformed HTTP response for "
                                              f"{target.url} ({type(err).__name__})") from None
                raise FetchError(UNAVAILABLE, f"download of {target.url} failed: "
                                              f"{getattr(err, 'strerror', None) or err!r}") from None
        finally:
            clock.watch(None)
            sock.close()
    raise AssertionError("unreachable")


def _check_status(response: http.client.HTTPResponse, target: _Target) -> None:
    if response.status == 200:
        return
    text = f"{target.url} answered HTTP {response.status} {response.reason}"
    if response.status >= 500 or response.status == 429:
        raise FetchError(UNAVAILABLE, f"{text}: the server failed, try again later")
    raise FetchError(INVALID, f"{text}: check the URL")


def _body(response: http.client.HTTPResponse, target: _Target, out, max_bytes: int,
          clock: _Deadline) -> tuple[int, str]:
    """Stream the body to ``out``, never reading more than ``max_bytes`` + 1 bytes whatever the headers say."""
    if response.length is not None and response.length > max_bytes:
        raise FetchError(INVALID, f"{target.url} is {_size(response.length)}, over the {_size(max_bytes)} limit")
    digest, size, announced = hashlib.sha256(), 0, response.length
    while True:
        clock.left()
        try:
            chunk = response.read1(min(_CHUNK, max_bytes + 1 - size))
        except http.client.IncompleteRead:
            chunk, announced = b"", -1
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(INVALID, f"{target.url} is larger than the {_size(max_bytes)} limit")
        try:
            out.write(chunk)
        except OSError as err:        # our disk, not the server: no FetchError kind fits
            raise FaceswapError(f"cannot write the download of {target.url}: {err.strerror or err}") from None
        digest.update(chunk)
    clock.left()
    if announced is not None and announced != size:   # read1 returns b"" at an early close: no exception
        raise FetchError(UNAVAILABLE, f"{target.url}: the connection closed after {_size(size)}"
                                      + (f" of the {_size(announced)} announced" if announced > 0 else ""))
    if size == 0:
        raise FetchError(INVALID, f"{target.url} is empty")
    return size, digest.hexdigest()


# ------------------------------------------------------------------------------------------------ typed fetches
def fetch_video(url: str, dest_dir, *, max_bytes: int = VIDEO_MAX_BYTES, allow_private: bool = False,
                name: str | None = None, **timeouts) -> Download:
    """:func:`fetch`, then probe the file as a plain video (no playlists, scripts or other formats that make
    ffmpeg open more files or URLs, see lib.video.input_args); anything else is FetchError ``invalid`` and
    removed. ``Download.video`` holds the probed lib.video.VideoInfo."""
    from lib.video import probe
    download = fetch(url, dest_dir, max_bytes=max_bytes, allow_private=allow_private, name=name, **timeouts)
    try:
        download.video = probe(download.path)
    except FaceswapError as err:
        download.path.unlink(missing_ok=True)
        reason = str(err).replace(f"cannot read video {download.path}: ", "")
        reason = reason.replace(f"video {download.path}", "the file").replace(str(download.path), "the file")
        reason = re.sub(r" \(is it a [^)]*\)$", "", reason)     # probe's hint is for local files
        raise FetchError(INVALID, f"{url} is not a video faceswap can use: {reason}") from None
    except BaseException:
        download.path.unlink(missing_ok=True)
        raise
    return download


def fetch_model(url: str, dest_dir, *, max_bytes: int = MODEL_MAX_BYTES, allow_private: bool = False,
                **timeouts) -> Path:
    """:func:`fetch` a model archive (lib/model/archive.py) and unpack it into a fresh folder under
    ``dest_dir``, checked and loaded without pickle; returns that model folder. The archive is removed."""
    from lib.model import archive
    download = fetch(url, dest_dir, max_bytes=max_bytes, allow_private=allow_private, **timeouts)
    try:
        return archive.unpack(download.path, dest_dir)
    except archive.ArchiveError as err:
        raise FetchError(INVALID, f"model from {url} refused: {err}") from None
    finally:
        download.path.unlink(missing_ok=True)
