"""The work behind every front end: extract, train, convert, swap (and evaluate) as jobs with typed parameters.

The terminal (``scripts/``), the service and the GUI all call these functions; none of them builds an argv to
call another command. Each job is ``run(params, progress=None, cancel=None) -> result``:

- ``params`` is the job's own dataclass (``ExtractParams``, ``TrainParams`` ...). Its field names are the
  ``dest`` names of the matching CLI command's arguments, with the same defaults, so the CLI builds one with
  :func:`params_from_args` and every other caller by keyword.
- ``progress`` is a callable that receives a :class:`Progress` now and then (at most a few times a second).
- ``cancel`` is a :class:`Cancel`; the job checks it between units of work and stops by raising
  :class:`JobCancelled` after leaving its files consistent (training saves first).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from lib.errors import FaceswapError


class JobCancelled(FaceswapError):
    """The job stopped because its cancel flag was set; what was saved so far is kept."""

    exit_code = 130


@dataclass
class Progress:
    """One snapshot of a job's progress, as every front end shows it."""
    stage: str                               # e.g. "extract A", "train", "convert"
    done: int = 0                            # units done in this stage (frames, iterations)
    total: Optional[int] = None              # units in this stage, when known
    unit: str = ""                           # "frames", "it"
    iteration: Optional[int] = None          # training: the model's total iteration count
    loss_a: Optional[float] = None           # training: latest loss of side A
    loss_b: Optional[float] = None           # training: latest loss of side B
    egs: Optional[float] = None              # training: examples (faces) per second
    eta: Optional[float] = None              # seconds left in this stage, when known
    preview: Optional[str] = None            # path of the latest preview image
    message: str = ""                        # a short line for the log

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


ProgressFn = Callable[[Progress], None]


class Cancel:
    """A cancel flag shared between a job and whoever may stop it (a signal handler, a web request, a worker)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str = "cancelled") -> None:
        self.reason = self.reason or reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the flag is set (call between units of work)."""
        if self._event.is_set():
            raise JobCancelled(f"stopped: {self.reason}")


class Reporter:
    """Wraps a job's ``progress`` callback and ``cancel`` flag: rate-limits calls and fills in the ETA."""

    def __init__(self, progress: ProgressFn | None = None, cancel: Cancel | None = None, interval: float = 0.25):
        self.progress = progress
        self.cancel = cancel if cancel is not None else Cancel()   # an unset Cancel is falsy
        self.interval = interval
        self._last = 0.0
        self._stage = ""
        self._stage_start = time.monotonic()
        self._stage_done0 = 0

    def __call__(self, stage: str, done: int = 0, total: int | None = None, force: bool = False, **fields) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self._stage_start, self._stage_done0 = stage, now, done
            force = True
        if self.progress is None or (not force and now - self._last < self.interval and done != total):
            return
        self._last = now
        if "eta" not in fields and total and done > self._stage_done0:
            rate = (done - self._stage_done0) / max(now - self._stage_start, 1e-6)
            fields["eta"] = max(total - done, 0) / rate
        self.progress(Progress(stage=stage, done=done, total=total, **fields))

    def check(self) -> None:
        self.cancel.check()


def params_from_args(cls, args, **overrides):
    """Build a params dataclass from an argparse Namespace: the fields whose names are dest names are taken."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update(overrides)
    return cls(**values)


__all__ = ["Cancel", "JobCancelled", "Progress", "ProgressFn", "Reporter", "params_from_args", "field"]
