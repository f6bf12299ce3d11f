"""Writer 'ffmpeg': H.264 or H.265 video at a chosen CRF, same fps as the source, its audio copied in, and
the synthetic-media tags in the container. Frames stream to ffmpeg through lib.video.VideoWriter, which
writes a temp file and renames it only when the video is complete."""
from pathlib import Path

import numpy as np

from lib.registry import register
from lib.video import VideoWriter
from plugins.convert.writer._base import WriterOptions, check_file_target

CODECS = {"h264": "libx264", "h265": "libx265"}
PRESET = "veryfast"


@register("convert.writer", "ffmpeg")
class FfmpegWriter:
    video = True
    suffixes = (".mp4", ".mkv", ".mov", ".m4v")

    def __init__(self, output: Path, options: WriterOptions):
        self.path = check_file_target(output, self.suffixes, "ffmpeg")
        self._writer = VideoWriter(self.path, options.fps, options.size, codec=CODECS[options.codec],
                                   crf=options.crf, preset=PRESET, audio_from=options.audio_from,
                                   metadata=options.tags)

    def write(self, frame: np.ndarray, name: str) -> None:
        self._writer.write(frame)

    def close(self) -> Path:
        return self._writer.close()

    def abort(self) -> None:
        self._writer.abort()
