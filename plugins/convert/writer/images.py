"""Writer 'images': one PNG or JPEG per frame, named like the input frames, each carrying the synthetic-media
tag in its own metadata (PNG tEXt chunk, JPEG comment). A new output folder is filled under a temp name and
renamed when the run completes; into an existing folder each file is written atomically. An output named
like an image (``out.jpg``) takes a single frame (a photo in, a photo out)."""
import os
import shutil
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.fileio import atomic_write_bytes, temp_dir
from lib.provenance import encode_image
from lib.registry import register
from plugins.convert.writer._base import WriterOptions, check_folder_writable

EXT = {"png": ".png", "jpg": ".jpg"}
SINGLE = (".png", ".jpg", ".jpeg")


@register("convert.writer", "images")
class ImagesWriter:
    video = False

    def __init__(self, output: Path, options: WriterOptions):
        self.path = Path(output)
        self.single = self.path.suffix.lower() in SINGLE and not self.path.is_dir()
        self.frames = 0
        if self.single:
            check_folder_writable(self.path.parent, self.path)
            self.folder = self.tmp = None
            return
        if self.path.exists() and not self.path.is_dir():
            raise FaceswapError(f"output {self.path} is a file: the images writer needs a folder")
        self.ext = EXT[options.image_format]
        if self.path.is_dir():
            check_folder_writable(self.path, self.path)
            self.folder, self.tmp = self.path, None
        else:
            check_folder_writable(self.path.parent, self.path)
            self.tmp = temp_dir(self.path)
            self.folder = self.tmp

    def write(self, frame: np.ndarray, name: str) -> None:
        if self.single:
            if self.frames:
                raise FaceswapError(f"output {self.path} is one image but the input has several frames: "
                                    f"give a folder for -o")
            data, target = encode_image(frame, self.path.suffix), self.path
        else:
            data, target = encode_image(frame, self.ext), self.folder / (Path(name).stem + self.ext)
        if not data:
            raise FaceswapError(f"could not encode frame {name} as {target.suffix}")
        atomic_write_bytes(target, data)
        self.frames += 1

    def close(self) -> Path:
        if self.tmp is not None:
            os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
