"""Fetching URLs someone else gave us: a real threaded HTTP server on 127.0.0.1 serving a real clip, and hostile
variants of it (redirects inside, endless bodies, lying headers, slow drips, playlists). Every request the server
gets is recorded, so a refused URL can be shown never to have been asked for."""
import hashlib
import http.server
import ipaddress
import itertools
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import shared
from lib import fetch
from lib.fetch import FetchError, address_problem
from test_video_untrusted import CLIP, ffconcat_playlist, hls_playlist, secret, watch_opens  # noqa: F401

CAP = 100_000


class Server:
    """ThreadingHTTPServer on 127.0.0.1; ``routes`` maps a path to ``handler(request)``; ``requests`` lists paths.
    ``tls``: (certificate, key) files to serve https."""

    def __init__(self, tls=None):
        self.routes, self.requests = {}, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                route = owner.routes.get(self.path.split("?")[0])
                try:
                    route(self) if route else self.send_error(404)
                except (ConnectionError, OSError):
                    pass                      # the client hung up: what a refusing client does

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def send(request, body: bytes, content_type="video/mp4", status=200, headers=()):
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for key, value in headers:
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(body)


def redirect(location: str):
    def handler(request):
        request.send_response(302)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()
    return handler


def endless(request, headers=(), chunked=False):
    """Send the headers, then zeros until the client hangs up."""
    request.send_response(200)
    request.send_header("Content-Type", "video/mp4")
    for key, value in headers:
        request.send_header(key, value)
    request.end_headers()
    block = bytes(10_000)
    for _ in itertools.count():
        request.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)


@pytest.fixture
def server():
    srv = Server()
    clip = shared(CLIP).read_bytes()
    srv.clip = clip
    srv.routes["/clip"] = lambda r: send(r, clip)
    yield srv
    srv.close()


@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def resolve_as(monkeypatch, name: str, address: str) -> list:
    """Make ``name`` resolve to ``address`` (no test leaves the machine); returns the list of its look-ups."""
    real, calls = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def refused(kind: str, call, *args, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        call(*args, **kwargs)
    assert info.value.kind == kind, str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------------ good
def test_a_video_arrives_intact_under_a_name_of_ours(server, dest):
    got = fetch.fetch_video(server.url("/clip?name=clip.mp4"), dest, allow_private=True)
    assert got.path.parent == dest and got.path.read_bytes() == server.clip
    assert "clip" not in got.path.name and not got.path.suffix
    assert got.size == len(server.clip) and got.sha256 == hashlib.sha256(server.clip).hexdigest()
    assert got.video.frame_count == 130 and (got.video.width, got.video.height) == (224, 224)
    assert list(dest.iterdir()) == [got.path]


def test_three_redirects_are_followed_and_a_fourth_is_refused(server, dest):
    server.routes["/r0"] = lambda r: send(r, server.clip)
    for n in range(1, 5):
        server.routes[f"/r{n}"] = redirect(f"/r{n - 1}")                 # /rN: N redirects to the clip
    got = fetch.fetch(server.url("/r3"), dest, max_bytes=CAP * 10, allow_private=True)
    assert got.path.read_bytes() == server.clip and got.url == server.url("/r0")
    server.requests.clear()
    error = refused("invalid", fetch.fetch, server.url("/r4"), dest, max_bytes=CAP * 10, allow_private=True)
    assert "more than 3" in str(error)
    assert server.requests == ["/r4", "/r3", "/r2", "/r1"]               # the fourth redirect was not followed
    assert list(dest.iterdir()) == [got.path]


def test_the_host_is_looked_up_once_and_the_checked_address_is_the_one_connected(server, dest, monkeypatch):
    """DNS rebinding: a name that answers a checked address first and the metadata address later gets one
    lookup only; the connection goes to the checked address and the server still sees the name as Host."""
    real, calls, hosts = socket.getaddrinfo, [], []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        calls.append(host)
        address = "127.0.0.1" if len(calls) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def clip_with_host(request):
        hosts.append(request.headers["Host"])
        send(request, server.clip)

    server.routes["/named"] = clip_with_host
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    got = fetch.fetch(server.url("/named", host="rebind.test"), dest, max_bytes=CAP * 10, allow_private=True)
    assert got.path.read_bytes() == server.clip
    assert calls == ["rebind.test"] and hosts == [f"rebind.test:{server.port}"]


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """An https server for the name fetch.test (resolved to 127.0.0.1) with a self-signed certificate."""
    openssl = shutil.which("openssl") or pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=fetch.test", "-addext", "subjectAltName=DNS:fetch.test",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    srv = Server(tls=(cert, key))
    srv.clip = shared(CLIP).read_bytes()
    srv.routes["/clip"] = lambda r: send(r, srv.clip)
    srv.cert = cert
    resolve_as(monkeypatch, "fetch.test", "127.0.0.1")
    yield srv
    srv.close()


def test_https_verifies_the_certificate_against_the_url_host_while_connecting_to_the_checked_address(
        tls, dest, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.cert))            # trust our test certificate, nothing else
    got = fetch.fetch_video(tls.url("/clip", host="fetch.test", scheme="https"), dest, allow_private=True)
    assert got.path.read_bytes() == tls.clip
    error = refused("invalid", fetch.fetch, tls.url("/clip", scheme="https"), dest, max_bytes=CAP * 10,
                    allow_private=True)                            # the certificate does not name 127.0.0.1
    assert "certificate" in str(error)


def test_https_with_an_untrusted_certificate_is_refused(tls, dest):
    error = refused("invalid", fetch.fetch, tls.url("/clip", host="fetch.test", scheme="https"), dest,
                    max_bytes=CAP * 10, allow_private=True)
    assert "TLS certificate of fetch.test is not valid" in str(error)
    assert tls.requests == [] and list(dest.iterdir()) == []


# ------------------------------------------------------------------------------------------------ addresses
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "0x7f000001", "2130706433", "017700000001",
                                  "[::ffff:127.0.0.1]"])
def test_a_loopback_url_without_allow_private_never_reaches_the_server(server, dest, host):
    """However the loopback address is spelled, the address it resolves to is what is checked."""
    error = refused("invalid", fetch.fetch_video, server.url("/clip", host=host), dest)
    assert "loopback" in str(error) and "--allow-private-urls" in str(error)
    assert server.requests == [] and list(dest.iterdir()) == []


def test_the_unspecified_address_is_refused_even_with_allow_private(server, dest):
    """Connecting to 0.0.0.0 reaches this machine on Linux: it is never a destination."""
    assert "unspecified" in str(refused("invalid", fetch.fetch_video, server.url("/clip", host="0.0.0.0"), dest,
                                        allow_private=True))
    assert server.requests == []


def test_a_redirect_to_the_metadata_address_is_refused_even_with_allow_private(server, dest):
    server.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/")
    error = refused("invalid", fetch.fetch_video, server.url("/meta"), dest, allow_private=True)
    assert "169.254.169.254" in str(error) and "link-local" in str(error)
    assert server.requests == ["/meta"] and list(dest.iterdir()) == []


@pytest.mark.parametrize("location, problem", [
    ("http://127.0.0.2:{port}/clip", "loopback"),
    ("http://10.1.2.3/clip", "private"),
    ("http://[::ffff:192.168.1.1]/clip", "private (IPv4-mapped 192.168.1.1)"),
    ("http://[fd12::1]/clip", "private"),
    ("file:///etc/passwd", "only http and https"),
    ("ftp://example.com/clip", "only http and https"),
])
def test_a_redirect_to_a_private_address_or_another_scheme_is_refused(server, dest, monkeypatch, location,
                                                                      problem):
    """Here 127.0.0.1 stands in for a public host (no test may leave the machine): it alone is let through."""
    real = fetch.address_problem
    monkeypatch.setattr(fetch, "address_problem", lambda a, p=False: None if a == "127.0.0.1" else real(a, p))
    server.routes["/away"] = redirect(location.format(port=server.port))
    error = refused("invalid", fetch.fetch_video, server.url("/away"), dest)
    assert problem in str(error)
    assert server.requests == ["/away"] and list(dest.iterdir()) == []


@pytest.mark.parametrize("address, problem, with_allow_private", [
    ("8.8.8.8", None, None),
    ("1.1.1.1", None, None),
    ("2606:4700:4700::1111", None, None),
    ("127.0.0.1", "loopback", None),
    ("127.255.0.9", "loopback", None),
    ("::1", "loopback", None),
    ("10.0.0.1", "private", None),
    ("172.16.5.4", "private", None),
    ("172.32.0.1", None, None),
    ("192.168.1.1", "private", None),
    ("100.64.0.1", "shared (carrier-grade NAT)", None),
    ("fc00::1", "private", None),
    ("fd12:3456::1", "private", None),
    ("0.0.0.0", "unspecified", "unspecified"),
    ("0.1.2.3", "unspecified", "unspecified"),
    ("::", "unspecified", "unspecified"),
    ("169.254.169.254", "link-local", "link-local"),
    ("fe80::1", "link-local", "link-local"),
    ("100.100.100.200", "cloud metadata", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata", "cloud metadata"),
    ("224.0.0.1", "multicast", "multicast"),
    ("239.255.255.250", "multicast", "multicast"),
    ("ff02::1", "multicast", "multicast"),
    ("240.0.0.1", "reserved", "reserved"),
    ("255.255.255.255", "broadcast", "broadcast"),
    ("192.0.2.1", "reserved", "reserved"),
    ("198.18.0.1", "reserved", "reserved"),
    ("2001:db8::1", "reserved", "reserved"),
    ("2001::1", "reserved", "reserved"),               # Teredo
    ("fec0::1", "reserved", "reserved"),               # deprecated site-local
    ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)", None),
    ("::ffff:169.254.169.254", "link-local (IPv4-mapped 169.254.169.254)",
     "link-local (IPv4-mapped 169.254.169.254)"),
    ("::ffff:8.8.8.8", None, None),
    ("::7f00:1", "not public", "not public"),           # IPv4-compatible 127.0.0.1 (deprecated form)
    ("2002:7f00:1::", "loopback (6to4 127.0.0.1)", None),
    ("2002:a9fe:a9fe::", "link-local (6to4 169.254.169.254)", "link-local (6to4 169.254.169.254)"),
    ("2002:808:808::", None, None),
    ("64:ff9b::a9fe:a9fe", "link-local (NAT64 169.254.169.254)", "link-local (NAT64 169.254.169.254)"),
    ("64:ff9b::808:808", None, None),
])
def test_address_classifier(address, problem, with_allow_private):
    assert address_problem(address) == problem
    assert address_problem(ipaddress.ip_address(address), allow_private=True) == with_allow_private


@pytest.mark.parametrize("url, words", [
    ("", "no URL"),
    ("example.com/clip.mp4", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://example.com/", "only http and https"),
    ("http://user:secret@example.com/clip.mp4", "user name or password"),
    ("http:///clip.mp4", "no host"),
    ("http://example.com:99999/clip.mp4", "malformed"),
    ("http://exa mple.com/clip.mp4", "spaces or control characters"),
    ("http://example.com/" + "a" * 3000, "longer than"),
])
def test_bad_urls_are_refused_before_any_lookup(dest, url, words, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("looked up a refused URL"))
    assert words in str(refused("invalid", fetch.fetch, url, dest, max_bytes=CAP))
    assert list(dest.iterdir()) == []


# ------------------------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("route", ["no-length", "lying-chunked"])
def test_an_endless_body_is_cut_at_the_cap_whatever_the_headers(server, dest, route):
    """The body never ends: only the byte count can stop the download (a client trusting headers would run
    until the deadline, a 'timeout', not this 'invalid')."""
    server.routes["/no-length"] = endless
    server.routes["/lying-chunked"] = lambda r: endless(r, [("Content-Length", "1000"),
                                                            ("Transfer-Encoding", "chunked")], chunked=True)
    error = refused("invalid", fetch.fetch, server.url(f"/{route}"), dest, max_bytes=CAP, allow_private=True,
                    deadline=20)
    assert "larger than" in str(error)
    assert list(dest.iterdir()) == []


def test_a_content_length_over_the_cap_is_refused_before_the_body(server, dest):
    server.routes["/huge"] = lambda r: endless(r, [("Content-Length", str(10 ** 9))])
    started = time.monotonic()
    error = refused("invalid", fetch.fetch, server.url("/huge"), dest, max_bytes=CAP, allow_private=True)
    assert "over the" in str(error) and time.monotonic() - started < 5
    assert list(dest.iterdir()) == []


def test_a_small_lying_content_length_ends_the_body_there_and_is_no_video(server, dest):
    server.routes["/lying"] = lambda r: endless(r, [("Content-Length", "1000")])
    got = fetch.fetch(server.url("/lying"), dest, max_bytes=CAP, allow_private=True)
    assert got.size == 1000                     # framing ends the body: nothing past it is read
    got.path.unlink()
    refused("invalid", fetch.fetch_video, server.url("/lying"), dest, max_bytes=CAP, allow_private=True)
    assert list(dest.iterdir()) == []


def test_a_body_cut_short_is_unavailable_and_left_nowhere(server, dest):
    def short(request):
        request.send_response(200)
        request.send_header("Content-Length", str(len(server.clip)))
        request.end_headers()
        request.wfile.write(server.clip[:5000])
    server.routes["/short"] = short
    assert "closed after" in str(refused("unavailable", fetch.fetch_video, server.url("/short"), dest,
                                         allow_private=True))
    assert list(dest.iterdir()) == []


# ------------------------------------------------------------------------------------------------ time
def drip(body: bool):
    def handler(request):
        if body:
            request.send_response(200)
            request.send_header("Content-Length", "100000")
            request.end_headers()
        else:
            request.wfile.write(b"HTTP/1.0 200 OK\r\n")
        for i in range(200):
            request.wfile.write(b"x" if body else b"X-Drip-%d: 1\r\n" % i)
            request.wfile.flush()
            time.sleep(0.05)
    return handler


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_server_dripping_bytes_hits_the_overall_deadline(server, dest, where):
    server.routes["/drip"] = drip(where == "body")
    started = time.monotonic()
    error = refused("timeout", fetch.fetch_video, server.url("/drip"), dest, allow_private=True, read_timeout=5,
                    deadline=1.0)
    assert 0.9 < time.monotonic() - started < 4, error
    assert list(dest.iterdir()) == []


def test_a_server_that_stops_sending_hits_the_read_timeout(server, dest):
    def stall(request):
        request.send_response(200)
        request.send_header("Content-Length", "1000")
        request.end_headers()
        time.sleep(3)
    server.routes["/stall"] = stall
    started = time.monotonic()
    error = refused("timeout", fetch.fetch_video, server.url("/stall"), dest, allow_private=True, read_timeout=0.5)
    assert "sent nothing" in str(error) and time.monotonic() - started < 2.5
    assert list(dest.iterdir()) == []


# ------------------------------------------------------------------------------------------------ content
def test_a_text_file_served_as_video_is_refused(server, dest):
    server.routes["/text"] = lambda r: send(r, b"this is not a video\n" * 50, content_type="video/mp4")
    assert "not a video" in str(refused("invalid", fetch.fetch_video, server.url("/text"), dest,
                                        allow_private=True))
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("playlist", [hls_playlist, ffconcat_playlist])
def test_a_playlist_served_as_video_is_refused_and_nothing_it_names_is_read(server, dest, secret, playlist):
    """Saved under our extension-less name, ffmpeg does not even take an HLS playlist for one; a concat script is
    recognised and refused by the format allow-list. Either way: refused, unread, nothing fetched."""
    text = playlist(f"file://{secret}", server.url("/clip?from-playlist"), f"file:{secret}")
    server.routes["/playlist"] = lambda r: send(r, text.encode(), content_type="video/mp4")
    with watch_opens(secret) as opened:
        error = refused("invalid", fetch.fetch_video, server.url("/playlist"), dest, allow_private=True)
        assert opened() == 0
    assert "is not a video" in str(error) and str(dest) not in str(error)
    assert server.requests == ["/playlist"] and list(dest.iterdir()) == []


# ------------------------------------------------------------------------------------------------ models
def test_a_model_archive_is_fetched_checked_and_unpacked_and_a_hostile_one_leaves_nothing(server, dest, tmp_path):
    from lib.model import store
    from test_archive import member, plain_npz, zip_of
    good = zip_of(tmp_path / "good.zip", (member("model.npz"), plain_npz())).read_bytes()
    bad = zip_of(tmp_path / "bad.zip", (member("../model.npz"), plain_npz())).read_bytes()
    server.routes["/good"] = lambda r: send(r, good, content_type="application/zip")
    server.routes["/bad"] = lambda r: send(r, bad, content_type="application/zip")
    folder = fetch.fetch_model(server.url("/good"), dest, allow_private=True)
    assert store.read_meta(folder)["plugin"] == "lightweight"
    assert sorted(dest.rglob("*")) == [folder, folder / "model.npz"]       # the archive itself is gone
    error = refused("invalid", fetch.fetch_model, server.url("/bad"), dest, allow_private=True)
    assert "outside the archive" in str(error) and str(dest) not in str(error)
    assert sorted(dest.rglob("*")) == [folder, folder / "model.npz"]
