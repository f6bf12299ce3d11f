"""Built-in sample data: short moving clips of public-domain portraits that ship inside our dependencies.

``astronaut`` is scikit-image's ``astronaut.png`` (Eileen Collins, NASA) and ``hopper`` matplotlib's
``grace_hopper.jpg`` (US Navy); both are public domain. The clip pans, zooms and rotates the portrait a
little so extraction, training and conversion see real motion, and carries an audio track (a tone or
silence) so sound handling is exercised too. No download, no shared data.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.fileio import atomic_path
from lib.video import VideoWriter, read_image, run_ffmpeg

PEOPLE = ("astronaut", "hopper")


def portrait(who: str) -> np.ndarray:
    """The BGR portrait ``who`` ("astronaut" or "hopper")."""
    if who == "astronaut":
        from skimage import data
        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    if who == "hopper":
        from matplotlib import cbook
        return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    raise FaceswapError(f"unknown sample person '{who}': choose one of {', '.join(PEOPLE)}")


def _frame(image: np.ndarray, t: float, size: tuple[int, int]) -> np.ndarray:
    """The portrait at time ``t`` (0..1): fitted to the frame height, then a slow pan, zoom and tilt."""
    width, height = size
    h, w = image.shape[:2]
    base = height / h * 1.1
    zoom = base * (1.0 + 0.12 * np.sin(np.pi * t))
    angle = 4.0 * np.sin(2 * np.pi * t)
    centre = (w / 2 + 0.06 * w * np.sin(2 * np.pi * t), h * 0.45)
    matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
    matrix[:, 2] += (width / 2 - centre[0], height / 2 - centre[1])
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def sample_clip(path, who: str = "astronaut", seconds: float = 3, fps: int = 25, size=(640, 360),
                audio: str = "tone") -> Path:
    """Write a short h264 mp4 of ``who`` moving gently, with a 440 Hz ``tone`` or ``silent`` audio track."""
    path = Path(path)
    image = portrait(who)
    frames = max(1, int(round(seconds * fps)))
    with tempfile.TemporaryDirectory() as work:
        silent_video = Path(work) / "video.mp4"
        with VideoWriter(silent_video, fps, tuple(size), preset="ultrafast") as writer:
            for i in range(frames):
                writer.write(_frame(image, i / max(1, frames - 1), tuple(size)))
        source = "anullsrc=r=44100:cl=mono" if audio == "silent" else "sine=frequency=440:sample_rate=44100"
        with atomic_path(path) as tmp:
            run_ffmpeg(["-i", silent_video, "-f", "lavfi", "-t", f"{frames / fps:.3f}", "-i", source,
                        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k",
                        "-shortest", "-f", "mp4", tmp], f"writing sample clip {path}")
    return path
