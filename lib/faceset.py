"""A folder of face PNGs as the tools see it: each file with its embedded metadata, indexed by (frame, face).

Face PNGs carry their source frame name and face index (lib/faces.py), so a faces folder can be matched
against an alignments file without guessing from file names; a user may rename or delete files freely.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from lib.errors import FaceswapError
from lib.faces import read_face_meta

log = logging.getLogger(__name__)


@dataclass
class FaceFile:
    path: Path
    meta: dict | None          # None: a plain image with no faceswap metadata

    @property
    def key(self) -> tuple[str, int] | None:
        """(source frame name, face index), or None when the metadata does not say."""
        if not self.meta or "frame" not in self.meta or "face_index" not in self.meta:
            return None
        return str(self.meta["frame"]), int(self.meta["face_index"])


def scan(folder, need_meta: bool = False, recursive: bool = False) -> list[FaceFile]:
    """The PNGs of ``folder`` (natural order) with their metadata; a clear error if there are none.

    With ``need_meta`` a folder without a single faceswap face is an error (plain photos are not faces).
    With ``recursive`` the PNGs of its sub-folders count too (e.g. the group folders of ``tools.py sort``).
    """
    from lib.video import list_images
    folder = Path(folder)
    if not folder.exists():
        raise FaceswapError(f"faces folder not found: {folder}")
    if not folder.is_dir():
        raise FaceswapError(f"{folder} is a file, but a folder of face PNGs (written by extract) is needed")
    folders = [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())] if recursive else [folder]
    files = [FaceFile(path, read_face_meta(path)) for sub in folders for path in list_images(sub)
             if path.suffix.lower() == ".png"]
    if not files:
        raise FaceswapError(f"no face PNGs in {folder}: point at the folder written by 'faceswap.py extract'")
    if need_meta and not any(f.meta for f in files):
        raise FaceswapError(f"the PNGs in {folder} carry no faceswap metadata: they are not faces written by "
                            f"'faceswap.py extract' (re-extract them, or use 'tools.py alignments -j extract')")
    plain = sum(1 for f in files if f.meta is None)
    if plain:
        log.warning("%d PNG(s) in %s carry no faceswap metadata and are ignored", plain, folder)
    return files


def by_key(files: list[FaceFile]) -> dict[tuple[str, int], FaceFile]:
    """Faces indexed by (frame name, face index); a duplicated key (a copied file) keeps the first."""
    out: dict[tuple[str, int], FaceFile] = {}
    for face in files:
        if face.key is not None:
            out.setdefault(face.key, face)
    return out
