"""What machine a figure was measured on, for the benchmark reports (speed and quality)."""
from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (else what the platform module knows)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        return names[0] if names else cpu
    except OSError:
        return cpu


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (a shared machine's figures are read against them)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
