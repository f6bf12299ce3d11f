"""Who may do what with a uid: random uids, secret tokens (stored hashed), signed expiring dashboard keys.

A uid is 128 random bits; its token is another 256, handed to the caller once and stored only as a SHA-256
hash (a random token needs no slow hash: there is nothing to guess). The dashboard link carries a key instead
of the token: an expiry time and an HMAC of (uid, expiry, token hash) under a secret generated into the data
folder on first start, so a link stops working when it expires and nothing secret is in the code.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

from lib.errors import FaceswapError

SECRET_FILE = "secret.key"
_UID = re.compile(r"[0-9a-f]{32}")


class NotFound(FaceswapError):
    """No such uid or job."""


class UnknownUid(NotFound):
    """No such uid (never created, or deleted after the retention period)."""


class Denied(FaceswapError):
    """The token or key does not match the uid (or the key expired)."""


def new_uid() -> str:
    return secrets.token_hex(16)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def valid_uid(uid: str) -> bool:
    return bool(_UID.fullmatch(uid or ""))


def load_secret(data_dir) -> bytes:
    """The data folder's signing secret, created (readable by the owner only) on first use."""
    path = Path(data_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise FaceswapError(f"{path} is damaged (too short): delete it to make a new one (links given out "
                                f"so far stop working)") from None
        return secret
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_bytes()


class Access:
    """Creates uids and checks tokens and dashboard keys against the jobs table's uids."""

    def __init__(self, store, secret: bytes, link_seconds: float):
        self.store, self.secret, self.link_seconds = store, secret, link_seconds

    def create(self) -> tuple[str, str]:
        """A new uid and its token (the token is shown once: only its hash is kept)."""
        uid, token = new_uid(), new_token()
        self.store.add_uid(uid, hash_token(token))
        return uid, token

    def _record(self, uid: str) -> dict:
        record = self.store.get_uid(uid) if valid_uid(uid) else None
        if record is None:
            raise UnknownUid(f"unknown uid {uid[:40]!r}: it was never created here, or was deleted after the "
                             f"retention period (start a new one by calling without a uid)")
        return record

    def check_token(self, uid: str, token: str) -> None:
        record = self._record(uid)
        if not token:
            raise Denied(f"uid {uid} needs its token (given by the call that created it)")
        if not hmac.compare_digest(record["token_hash"], hash_token(token)):
            raise Denied(f"wrong token for uid {uid}")

    def key(self, uid: str, now: float | None = None) -> str:
        """A dashboard key for ``uid``: ``<expiry>.<hmac>``."""
        record = self._record(uid)
        expires = int((now or time.time()) + self.link_seconds)
        return f"{expires}.{self._sign(uid, expires, record['token_hash'])}"

    def check_key(self, uid: str, key: str) -> None:
        record = self._record(uid)
        expires, _, mac = (key or "").partition(".")
        if not expires.isdigit() or not hmac.compare_digest(mac, self._sign(uid, int(expires), record["token_hash"])):
            raise Denied(f"this link's key is not valid for uid {uid}")
        if int(expires) < time.time():
            raise Denied("this dashboard link has expired: ask the service for a new one (call status with your "
                         "token) or pass the token")

    def check(self, uid: str, token: str | None = None, key: str | None = None) -> None:
        """Accept either the uid's token or a valid dashboard key."""
        if token:
            self.check_token(uid, token)
        elif key:
            self.check_key(uid, key)
        else:
            self._record(uid)
            raise Denied(f"uid {uid} needs its token or a dashboard link's key")

    def link(self, base_url: str, uid: str) -> str:
        return f"{base_url}/dashboard?uid={uid}&key={self.key(uid)}"

    def _sign(self, uid: str, expires: int, token_hash: str) -> str:
        return hmac.new(self.secret, f"{uid}.{expires}.{token_hash}".encode(), hashlib.sha256).hexdigest()
