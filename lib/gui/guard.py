"""The local GUI's door: only this browser session, only from this machine's own pages.

``gui`` listens on 127.0.0.1, but other local users and any web page open in the browser can reach that
address too. So every request must carry the session token (printed in the link ``gui`` opens): the link's
``?token=`` sets a strict same-site cookie and redirects to the same URL without it; scripts send it in the
``X-Faceswap-Token`` header. On top of that:

- the Host header must name this server (127.0.0.1 / localhost and its port), so a DNS-rebinding page
  cannot talk to it under another name;
- a request that changes anything (POST, PUT, PATCH, DELETE) must carry the header token (a cross-site form
  or fetch cannot set it without a CORS preflight, which is never granted) and, when the browser sends an
  Origin, it must be this server's own;
- a browser's cross-site request (``Sec-Fetch-Site: cross-site``) is refused whatever it carries.
"""
from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "faceswap_token"
HEADER = "x-faceswap-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def new_token() -> str:
    """A random session token (256 bits)."""
    return secrets.token_urlsafe(32)


class Guard:
    """ASGI middleware: token, Host and Origin checks in front of the whole app (pure ASGI, so server-sent
    event streams pass through untouched)."""

    def __init__(self, app, token: str, hosts: list[str], cookie: str = COOKIE):
        self.app = app
        self.token = token
        self.cookie = cookie      # cookies are per host, not per port: two GUIs on one machine need two names
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}

    def _ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":        # the GUI has none: refuse rather than check
            return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        if headers.get("host", "").lower() not in self.hosts:
            return await _deny(send, 421, "unknown host: open the address that 'faceswap.py gui' printed")
        if headers.get("sec-fetch-site") == "cross-site":
            return await _deny(send, 403, "cross-site request refused")
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.origins:
            return await _deny(send, 403, "request from another site refused")
        path = scope.get("path", "")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if method in ("GET", "HEAD") and "token" in query:
            if not self._ok(query["token"]):
                return await _deny(send, 403, "wrong session token: open the address that 'faceswap.py gui' printed")
            rest = {k: v for k, v in query.items() if k != "token"}
            local = "/" + path.lstrip("/")           # never "//host": that would leave this server
            return await _redirect(send, local + (f"?{urlencode(rest)}" if rest else ""), self.cookie, self.token)
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            cookie = SimpleCookie()
        by_cookie = self._ok(cookie[self.cookie].value if self.cookie in cookie else None)
        by_header = self._ok(headers.get(HEADER))
        if method not in SAFE_METHODS:
            if not by_header:
                return await _deny(send, 403, f"missing or wrong {HEADER} header")
        elif not (by_cookie or by_header):
            return await _deny(send, 401, "no session: open the address (with its token) that 'faceswap.py gui' "
                                          "printed")
        return await self.app(scope, receive, send)


async def _deny(send, status: int, message: str) -> None:
    import json
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send, location: str, name: str, token: str) -> None:
    cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0"), (b"cache-control", b"no-store"),
                            (b"referrer-policy", b"no-referrer")]})
    await send({"type": "http.response.body", "body": b""})
