"""What every writer plugin shares: the options it is built with and the checks on its output path."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lib.errors import FaceswapError


@dataclass
class WriterOptions:
    """Everything a writer may need; each plugin uses the fields that apply to it."""
    fps: Fraction = Fraction(25)
    size: tuple[int, int] = (0, 0)             # width, height of the frames
    audio_from: Path | None = None             # a video whose first audio stream is copied in
    audio_shortest: bool = False               # cut the audio to the frames written (audio from --ref)
    codec: str = "h264"                        # h264 | h265 (ffmpeg writer)
    crf: int = 18                              # quality: lower is better and bigger
    image_format: str = "png"                  # png | jpg (images writer)
    tags: dict[str, str] = field(default_factory=dict)   # container metadata (provenance)


def check_file_target(path: Path, suffixes: tuple[str, ...], name: str) -> Path:
    """A video/GIF output must be a file with a known suffix in a writable, existing folder."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise FaceswapError(f"the {name} writer writes {'/'.join(suffixes)} files, not '{path.name}': "
                            f"give -o a name ending in {suffixes[0]} or choose another writer with -w")
    if path.is_dir():
        raise FaceswapError(f"output {path} is a folder: give a file name for the {name} writer")
    check_folder_writable(path.parent, path)
    return path


def check_folder_writable(folder: Path, target: Path) -> None:
    if not folder.is_dir():
        raise FaceswapError(f"cannot write {target}: folder {folder} does not exist (create it first)")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise FaceswapError(f"cannot write {target}: folder {folder} is read-only or not writable "
                            f"({err.strerror})") from None
