"""Writer 'gif': an animated GIF (for previews and sharing) with one palette made for the whole clip, and a
GIF comment block saying the content is synthetic. Frames stream losslessly to a temp video first; ffmpeg
then builds the palette and the GIF; the final name appears only when all of it succeeded."""
from pathlib import Path

import numpy as np

from lib.fileio import atomic_path, atomic_write_bytes, temp_file
from lib.provenance import tag_gif
from lib.registry import register
from lib.video import VideoWriter, run_ffmpeg
from plugins.convert.writer._base import WriterOptions, check_file_target


@register("convert.writer", "gif")
class GifWriter:
    video = True
    suffixes = (".gif",)

    def __init__(self, output: Path, options: WriterOptions):
        self.path = check_file_target(output, self.suffixes, "gif")
        self.fps = options.fps
        self.tmp = temp_file(self.path, ".mkv")
        self._writer = VideoWriter(self.tmp, options.fps, options.size, codec="ffv1")

    def write(self, frame: np.ndarray, name: str) -> None:
        self._writer.write(frame)

    def close(self) -> Path:
        try:
            self._writer.close()
            with atomic_path(self.path) as out:
                run_ffmpeg(["-i", self.tmp, "-filter_complex",
                            "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a",
                            "-loop", "0", "-f", "gif", out], f"writing GIF {self.path}")
                atomic_write_bytes(out, tag_gif(Path(out).read_bytes()))
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        self._writer.abort()
        self.tmp.unlink(missing_ok=True)
