"""Writer 'images': one PNG or JPEG per frame, named like the input frames, each carrying the synthetic-media
tag in its own metadata (PNG tEXt chunk, JPEG comment). A new output folder is filled under a temp name and
renamed when the run completes; into an existing folder each file is written atomically."""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.fileio import atomic_write_bytes
from lib.provenance import encode_image
from lib.registry import register
from plugins.convert.writer._base import WriterOptions, check_folder_writable

EXT = {"png": ".png", "jpg": ".jpg"}


@register("convert.writer", "images")
class ImagesWriter:
    video = False

    def __init__(self, output: Path, options: WriterOptions):
        self.path = Path(output)
        if self.path.exists() and not self.path.is_dir():
            raise FaceswapError(f"output {self.path} is a file: the images writer needs a folder")
        self.ext = EXT[options.image_format]
        if self.path.is_dir():
            check_folder_writable(self.path, self.path)
            self.folder, self.tmp = self.path, None
        else:
            check_folder_writable(self.path.parent, self.path)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
            self.folder = self.tmp
        self.frames = 0

    def write(self, frame: np.ndarray, name: str) -> None:
        data = encode_image(frame, self.ext)
        if not data:
            raise FaceswapError(f"could not encode frame {name} as {self.ext}")
        atomic_write_bytes(self.folder / (Path(name).stem + self.ext), data)
        self.frames += 1

    def close(self) -> Path:
        if self.tmp is not None:
            os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
