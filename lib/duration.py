"""Durations as people write them: ``90s``, ``30m``, ``1h30m``, ``2h``, ``1.5h`` or a plain number of seconds.

CPU users plan training in hours, not iterations: ``train --time`` and ``swap --time`` take these, and the
quality benchmark's checkpoints too.
"""
from __future__ import annotations

import math
import re

from lib.errors import FaceswapError

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
LONGEST = 366 * 24 * 3600.0      # a year: anything longer is a typo


def parse(text, what: str = "--time") -> float:
    """Seconds in ``text`` (a positive number, or parts like 1h30m); FaceswapError naming ``what`` otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        spec = str(text).strip().lower().replace(" ", "")
        try:
            seconds = float(spec)
        except ValueError:
            parts = _PART.findall(spec)
            units = [unit for _, unit in parts]
            if not parts or "".join(f"{n}{u}" for n, u in parts) != spec or units != sorted(units, key="hms".index) \
                    or len(set(units)) != len(units):
                raise FaceswapError(f"{what} {text}: give a duration like 90s, 30m, 1h30m or 2h") from None
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not math.isfinite(seconds) or seconds <= 0 or seconds > LONGEST:
        raise FaceswapError(f"{what} {text}: give a duration of more than 0 seconds and at most a year, "
                            f"like 90s, 30m or 2h")
    return seconds


def format(seconds: float) -> str:  # noqa: A001 - lib.duration.format reads well at the call site
    """``5400`` -> ``1h30m``, ``95`` -> ``1m35s``, ``0.4`` -> ``0.4s``: the short form :func:`parse` reads."""
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"
