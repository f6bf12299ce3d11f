"""Write extract's face PNGs off the main thread, and renumber a frame's faces when some are dropped.

Warping, PNG encoding and file writes release the GIL, so two worker threads keep the detector busy
while the faces of earlier frames are saved. Each file is written atomically: a stopped run leaves whole
faces only.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from lib.faces import encode_face_png, face_filename, face_meta, read_face_png, warp_face, write_face_png
from lib.fileio import atomic_write_bytes


class FaceWriter:
    """Cut, encode and save the faces of a stream of frames, at most ``depth`` faces in flight."""

    def __init__(self, out_dir: Path, source_name: str, size: int, centering: str, workers: int = 2,
                 depth: int = 32):
        self.out_dir, self.source, self.size, self.centering = Path(out_dir), source_name, size, centering
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="face-writer")
        self.pending = deque()
        self.depth = depth

    def submit(self, frame, index: int, face) -> None:
        """Queue face ``index`` of ``frame`` (a lib.video.Frame); blocks while ``depth`` faces are in flight."""
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._write, frame.image, frame.name, frame.index, index, face))

    def _write(self, image, frame_name: str, frame_index: int, index: int, face) -> None:
        crop = warp_face(image, face.matrix, self.size, self.centering)
        meta = face_meta(face, self.source, frame_name, frame_index, index, self.size, self.centering)
        # As write_face_png, with the fastest zlib settings: ~45% less time than its default, about as small.
        png = encode_face_png(crop, meta, compression=1, strategy=cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY)
        atomic_write_bytes(self.out_dir / face_filename(frame_name, index), png)

    def finish(self) -> None:
        """Wait for every queued face to be on disk (re-raising a write error)."""
        while self.pending:
            self.pending.popleft().result()
        self.pool.shutdown()

    def abort(self) -> None:
        """Drop the faces not started yet; those being written are finished (never left half-written)."""
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)


def renumber_faces(out_dir: Path, frame_name: str, keep: list[bool]) -> None:
    """Delete the dropped faces of one frame and renumber the kept ones so file index = alignments index."""
    new = 0
    for old, kept in enumerate(keep):
        path = out_dir / face_filename(frame_name, old)
        if not kept:
            path.unlink(missing_ok=True)
            continue
        if new != old and path.exists():
            image, meta = read_face_png(path)
            write_face_png(out_dir / face_filename(frame_name, new), image, dict(meta or {}, face_index=new))
            path.unlink()
        new += 1
