"""The service's settings in one place: what ``serve`` and ``worker`` take on the command line, with defaults."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


@dataclass
class ServiceSettings:
    data: Path = Path("service-data")     # all state: jobs table, queue, secret, uids' models, results
    host: str = "0.0.0.0"                 # the address gRPC and the dashboard listen on
    grpc_port: int = 7003
    http_port: int = 7006
    public_url: str | None = None         # base of the dashboard links (default http://<host name>:<http port>)
    redis: str | None = None              # a Redis URL: queue jobs there (workers on other machines)
    workers: int = 1                      # workers inside serve (0: only separate `worker` processes run jobs)
    # what each call does
    iterations: int = 3000                # more iterations per call (also the most a call may ask for)
    trainer: str = "lightweight"          # model for new uids (swap's measured default)
    option: list[str] = field(default_factory=list)   # KEY=VALUE model settings for new uids
    batch_size: int = 16
    save_interval: int = 250              # the model is saved this often: a job put back resumes from there
    # limits
    allow_private_urls: bool = False
    max_video_mb: float = 20.0
    max_model_mb: float = 320.0
    max_jobs_per_uid: int = 2             # queued + running
    max_queued: int = 200                 # queued jobs in all
    fetch_deadline: float = 300.0         # seconds for one download, start to end
    # lifetimes
    retention_days: float = 7.0           # results, and uids unused this long, are deleted
    link_days: float = 7.0                # dashboard links carry a key that expires after this
    stale_after: float = 30.0             # seconds without a heartbeat before a job is put back
    cancel_grace: float = 5.0             # seconds a cancelled job gets to stop before its processes are ended

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn()
        return f"http://{host}:{self.http_port}"

    @property
    def max_video_bytes(self) -> int:
        return int(self.max_video_mb * MB)

    @property
    def max_model_bytes(self) -> int:
        return int(self.max_model_mb * MB)


def check(settings: ServiceSettings) -> ServiceSettings:
    """Refuse settings that cannot work, with one clear message each (before anything starts)."""
    from urllib.parse import urlparse

    from lib import registry
    from lib.errors import FaceswapError
    from lib.jobs.train import parse_settings
    from lib.model.network import _coerce
    for name in ("grpc_port", "http_port"):
        if not 0 < getattr(settings, name) < 65536:
            raise FaceswapError(f"--{name.replace('_', '-')} must be a port number (1-65535)")
    for name in ("iterations", "batch_size", "save_interval", "max_jobs_per_uid", "max_queued"):
        if getattr(settings, name) < 1:
            raise FaceswapError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("max_video_mb", "max_model_mb", "retention_days", "link_days", "stale_after", "cancel_grace",
                 "fetch_deadline"):
        if not getattr(settings, name) > 0:
            raise FaceswapError(f"--{name.replace('_', '-')} must be more than 0")
    if settings.workers < 0:
        raise FaceswapError("--workers must be 0 or more")
    plugin = registry.get("train.model", settings.trainer)
    for key, value in parse_settings(settings.option).items():
        if key not in plugin.defaults and key != "learn_mask":
            raise FaceswapError(f"-O {key}: model '{settings.trainer}' has no such setting: choose from "
                                f"{', '.join(sorted(plugin.defaults)) or 'none'}")
        if key in plugin.defaults:
            _coerce(key, value, plugin.defaults[key], settings.trainer)
    if settings.public_url:
        url = urlparse(settings.public_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise FaceswapError(f"--public-url {settings.public_url}: give the http(s) address users reach the "
                                f"dashboard at, e.g. https://faceswap.example.org")
    if settings.redis and urlparse(settings.redis).scheme not in ("redis", "rediss", "unix"):
        raise FaceswapError(f"--redis {settings.redis}: give a Redis URL, e.g. redis://host:6379/0")
    return settings
