"""Writer 'opencv': frames encoded by OpenCV's own cv2.VideoWriter (MPEG-4 part 2, or MJPEG in .avi), for
players that cannot decode H.264; the source's audio and the synthetic-media tags are then muxed in with
lib.video (stream copy, no re-encode). The final name appears only when all of that succeeded."""
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.fileio import temp_file
from lib.registry import register
from lib.video import mux_audio
from plugins.convert.writer._base import WriterOptions, check_file_target

FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".mov": "mp4v", ".mkv": "mp4v"}


@register("convert.writer", "opencv")
class OpencvWriter:
    video = True
    suffixes = (".mp4", ".avi", ".mov", ".mkv")

    def __init__(self, output: Path, options: WriterOptions):
        self.path = check_file_target(output, self.suffixes, "opencv")
        self.options = options
        suffix = self.path.suffix.lower()
        self.tmp = temp_file(self.path, suffix)
        self.size = tuple(options.size)
        self._cv = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*FOURCC[suffix]),
                                   float(options.fps), self.size)
        if not self._cv.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise FaceswapError(f"OpenCV cannot open a {FOURCC[suffix]} video writer for {self.path}: "
                                f"use -w ffmpeg instead")
        self.frames = 0

    def write(self, frame: np.ndarray, name: str) -> None:
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._cv.write(frame)
        self.frames += 1

    def close(self) -> Path:
        self._cv.release()
        try:
            if self.frames == 0:
                raise FaceswapError(f"writing video {self.path} failed: no frames were written")
            mux_audio(self.tmp, self.options.audio_from, self.path, shortest=True, metadata=self.options.tags)
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        self._cv.release()
        self.tmp.unlink(missing_ok=True)
