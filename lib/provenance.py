"""Provenance of swapped output: a metadata tag (always) and a small visible label (unless ``--no-label``).

Viewers and platforms can only warn about synthetic media they can recognise, so every file convert writes
says, in its own metadata, that it is synthetic and made by faceswap: container tags in videos, a ``tEXt``
chunk in PNGs, a comment segment in JPEGs and a comment extension in GIFs. The visible label is a courtesy
to people watching; the tag stays when it is turned off.
"""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

GENERATOR = "faceswap"
STATEMENT = "synthetic media: faces swapped by faceswap (AI-generated)"
LABEL = "AI-generated (faceswap)"
# Container tags written into videos; read back with lib.video.read_metadata.
VIDEO_TAGS = {"comment": STATEMENT, "synthetic": "true", "generator": GENERATOR}


def video_tags() -> dict[str, str]:
    """The tags every swapped video carries."""
    return dict(VIDEO_TAGS)


def is_tagged(tags: dict[str, str]) -> bool:
    """Whether container ``tags`` (from ``lib.video.read_metadata``) mark the file as synthetic."""
    return tags.get("synthetic") == "true" or STATEMENT in tags.get("comment", "")


# ---------------------------------------------------------------------------------------------- label
def draw_label(frame: np.ndarray, text: str = LABEL) -> np.ndarray:
    """Write a small, legible label in the bottom-right corner of ``frame`` (in place; returned)."""
    height, width = frame.shape[:2]
    scale = max(0.3, height / 1400)
    thick = max(1, round(scale * 1.6))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, round(th * 0.4))
    x1, y1 = width - tw - 3 * pad, height - th - base - 3 * pad
    x0, y0 = max(0, x1 - pad), max(0, y1 - pad)
    x2, y2 = min(width, x1 + tw + 2 * pad), min(height, y1 + th + base + 2 * pad)
    roi = frame[y0:y2, x0:x2]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)          # darken the box behind the text
    cv2.putText(frame, text, (x1 + pad, y1 + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
    return frame


# ---------------------------------------------------------------------------------------------- images
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tag_png(png: bytes) -> bytes:
    """PNG bytes with ``Comment``/``Software`` tEXt chunks (the statement) placed after the header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    end_of_ihdr = 8 + 8 + 13 + 4
    chunks = (_png_chunk(b"tEXt", b"Comment\x00" + STATEMENT.encode("latin-1"))
              + _png_chunk(b"tEXt", b"Software\x00" + GENERATOR.encode("latin-1")))
    return png[:end_of_ihdr] + chunks + png[end_of_ihdr:]


def tag_jpeg(jpeg: bytes) -> bytes:
    """JPEG bytes with a COM (comment) segment holding the statement right after the SOI marker."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    text = STATEMENT.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def tag_gif(gif: bytes) -> bytes:
    """GIF bytes with a comment extension holding the statement before the first image block."""
    if gif[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    flags = gif[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)   # header + screen + global colour table
    text = STATEMENT.encode("ascii")
    blocks = b"".join(bytes([len(text[i:i + 255])]) + text[i:i + 255] for i in range(0, len(text), 255))
    return b"GIF89a" + gif[6:pos] + b"\x21\xfe" + blocks + b"\x00" + gif[pos:]


def encode_image(image: np.ndarray, ext: str, quality: int = 95) -> bytes:
    """Encode ``image`` as ``.png``/``.jpg`` bytes carrying the synthetic-media tag."""
    ext = ext.lower()
    if ext in (".jpg", ".jpeg"):
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        return tag_jpeg(data.tobytes()) if ok else b""
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    return tag_png(data.tobytes()) if ok else b""


def image_statement(data: bytes) -> str | None:
    """The faceswap statement found in PNG, JPEG or GIF bytes, or None."""
    needle = STATEMENT.encode("ascii")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        pos = 8
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            if kind == b"tEXt" and body.startswith(b"Comment\x00") and needle in body:
                return STATEMENT
            if kind == b"IDAT":
                return None
            pos += 12 + length
        return None
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 4 <= len(data) and data[pos] == 0xFF:
            marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
            if marker == 0xFE and needle in data[pos + 4:pos + 2 + length]:
                return STATEMENT
            if marker == 0xDA:
                return None
            pos += 2 + length
        return None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return STATEMENT if b"\x21\xfe" + bytes([len(needle)]) + needle in data else None
    return None
