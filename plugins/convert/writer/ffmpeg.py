"""Writer 'ffmpeg': H.264 or H.265 video at a chosen CRF, same fps as the source, its audio copied in, and
the synthetic-media tags in the container. Frames stream to ffmpeg through lib.video.VideoWriter, which
writes a temp file and renames it only when the video is complete. Audio from a reference video that may
be longer than the frames (``--ref``) is muxed afterwards, cut to the video's length."""
from pathlib import Path

import numpy as np

from lib.fileio import temp_file
from lib.registry import register
from lib.video import VideoWriter, mux_audio
from plugins.convert.writer._base import WriterOptions, check_file_target

CODECS = {"h264": "libx264", "h265": "libx265"}
PRESET = "veryfast"


@register("convert.writer", "ffmpeg")
class FfmpegWriter:
    video = True
    suffixes = (".mp4", ".mkv", ".mov", ".m4v")

    def __init__(self, output: Path, options: WriterOptions):
        self.path = check_file_target(output, self.suffixes, "ffmpeg")
        self.options = options
        self.tmp = None
        target, audio = self.path, options.audio_from
        if options.audio_shortest and audio is not None:
            self.tmp = target = temp_file(self.path)
            audio = None
        self._writer = VideoWriter(target, options.fps, options.size, codec=CODECS[options.codec],
                                   crf=options.crf, preset=PRESET, audio_from=audio, metadata=options.tags)

    def write(self, frame: np.ndarray, name: str) -> None:
        self._writer.write(frame)

    def close(self) -> Path:
        if self.tmp is None:
            return self._writer.close()
        try:
            self._writer.close()
            mux_audio(self.tmp, self.options.audio_from, self.path, shortest=True, keep_metadata=True)
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        self._writer.abort()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
