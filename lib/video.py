"""All video and image I/O. The only module that runs ffmpeg (the static build shipped by imageio-ffmpeg).

Frames are streamed through a pipe, one at a time, so memory stays flat in video length.
A *source* is a video file, a folder of images or one image; every frame gets a stable name
(``<stem>_<index:06d>.png`` for video frames, the file name for images) that maps back to its index.
"""
from __future__ import annotations

import logging
import os
import re
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif")
_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (the one shipped inside imageio-ffmpeg, no system install needed)."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], what: str) -> str:
    """Run ffmpeg with ``args``; return its stderr. A failure becomes one FaceswapError naming ``what``."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    log.debug("ffmpeg: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise FaceswapError(f"{what} failed: {_last_error(proc.stderr)}")
    return proc.stderr


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else "ffmpeg gave no reason"


# Demuxers ffmpeg may open an input with: real containers and raw streams. Playlists and scripts (hls, concat,
# dash, sdp, avisynth, ...) name further files or URLs that ffmpeg would open in turn, so none is on the list.
INPUT_FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,asf,mpeg,mpegts,ogg,gif,ivf,nut,dv,h264,hevc,"
                 "m4v,mpegvideo,obu,mjpeg,yuv4mpegpipe,mp3,wav,aac,flac")


def input_args(path) -> list[str]:
    """ffmpeg arguments opening ``path`` as one plain local media file, whoever made it: the file protocol only
    (so nothing inside can make ffmpeg open another file or a URL) and only the demuxers of INPUT_FORMATS."""
    return ["-protocol_whitelist", "file", "-format_whitelist", INPUT_FORMATS, "-i", f"file:{Path(path).absolute()}"]


def _not_media(stderr: str) -> bool:
    """ffmpeg refused the input's format: a playlist, a script or anything else not in INPUT_FORMATS."""
    return "not on whitelist" in stderr


@dataclass
class VideoInfo:
    """What a user needs to know about a video before working on it."""
    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float
    codec: str
    has_audio: bool
    audio_codec: str | None = None

    @property
    def fps_float(self) -> float:
        return float(self.fps)


def _parse_fps(text: str) -> Fraction:
    value = Fraction(text).limit_denominator(1001)
    for ntsc in _NTSC:
        if abs(float(value) - float(ntsc)) < 0.01:
            return ntsc
    return value


def probe(path) -> VideoInfo:
    """Read size, fps, exact frame count, duration and audio of ``path`` (clear error if it is no video)."""
    path = Path(path)
    if not path.exists():
        raise FaceswapError(f"video not found: {path}")
    if path.is_dir():
        raise FaceswapError(f"{path} is a folder, not a video file")
    if path.stat().st_size == 0:
        raise FaceswapError(f"video {path} is empty (0 bytes): re-export or re-download it")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(path), "-map", "0:v:0",
                           "-c", "copy", "-f", "null", "-"], capture_output=True, text=True, errors="replace")
    err = proc.stderr
    video = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", err)
    if proc.returncode != 0 and _not_media(err):
        raise FaceswapError(f"cannot read video {path}: it is not a plain video file (a playlist, a script or a "
                            f"format faceswap does not open): give a video file such as mp4, mkv, mov, avi or webm")
    if proc.returncode != 0 or not video:
        reason = "no video stream" if proc.returncode == 0 else _last_error(err)
        raise FaceswapError(f"cannot read video {path}: {reason} (is it a truncated or non-video file? "
                            f"try 'tools.py effmpeg -a reencode')")
    width, height = int(video.group(2)), int(video.group(3))
    check_pixels(width, height, f"video {path}")
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", err)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width
    fps_match = re.search(r"([\d.]+) fps", err) or re.search(r"([\d.]+) tbr", err)
    fps = _parse_fps(fps_match.group(1)) if fps_match else Fraction(25)
    frames = re.findall(r"frame=\s*(\d+)", err)
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    frame_count = int(frames[-1]) if frames else round(duration * float(fps))
    audio = re.search(r"Stream #\S+.*?: Audio: (\w+)", err)
    if frame_count == 0:
        raise FaceswapError(f"video {path} has no frames (truncated or corrupt file)")
    expected = duration * float(fps)
    if expected > 10 and frame_count < 0.9 * expected:
        raise FaceswapError(f"video {path} is truncated: it holds {frame_count} of the {round(expected)} frames its "
                            f"header promises; re-encode it with 'tools.py effmpeg -a reencode' or use the full file")
    return VideoInfo(path, width, height, fps, frame_count, duration, video.group(1), bool(audio),
                     audio.group(1) if audio else None)


def read_frames(path, info: VideoInfo | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` BGR uint8 frames of a video, decoded by ffmpeg and streamed through a pipe.

    Raises FaceswapError at the end if ffmpeg stopped early (truncated or corrupt data).
    """
    info = info or probe(path)
    size = info.width * info.height * 3
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *input_args(path),
                                 "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "bgr24", "-fps_mode", "passthrough",
                                 "pipe:1"], stdout=subprocess.PIPE, stderr=errfile, bufsize=size * 2)
        index = 0
        try:
            while True:
                buf = proc.stdout.read(size)
                if len(buf) < size:
                    break
                yield index, np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
                index += 1
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        errfile.seek(0)
        stderr = errfile.read().decode(errors="replace")
    if index == 0 or (code not in (0, -9) and index < info.frame_count) or index < info.frame_count * 0.98:
        raise FaceswapError(f"video {path} is truncated or corrupt: decoded {index} of {info.frame_count} frames "
                            f"({_last_error(stderr)}); re-encode it with 'tools.py effmpeg -a reencode'")


def read_frame(path, index: int, info: VideoInfo | None = None) -> np.ndarray:
    """Decode frame ``index`` alone (BGR uint8): ffmpeg seeks to the keyframe before it and decodes from there,
    so a frame late in a long video costs about as much as an early one (the GUI's single-frame previews)."""
    info = info or probe(path)
    if not 0 <= index < info.frame_count:
        raise FaceswapError(f"frame {index} is not in {path}: it has frames 0-{info.frame_count - 1}")
    # Half a frame early: accurate seeking then drops the frames before the target, whatever the rounding.
    start = max(0.0, (index - 0.5) / float(info.fps))
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-ss", f"{start:.6f}",
                           *input_args(path), "-map", "0:v:0", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24",
                           "-fps_mode", "passthrough", "pipe:1"], capture_output=True)
    size = info.width * info.height * 3
    if len(proc.stdout) < size:
        raise FaceswapError(f"cannot read frame {index} of {path}: "
                            f"{_last_error(proc.stderr.decode(errors='replace'))}")
    return np.frombuffer(proc.stdout[:size], np.uint8).reshape(info.height, info.width, 3)


# ---------------------------------------------------------------------------------------------- images
# Images and video frames over this many pixels are refused before they are decoded: a small file can claim a
# huge picture (a PNG of 875 KB decodes to 30000x30000, 2.7 GB). 100 Mpx is above any camera or 8K frame.
MAX_PIXELS_ENV = "FACESWAP_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000


# OpenCV's own check (a backstop where it reads a header otherwise than Pillow) reads this once, at the first
# decode.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(DEFAULT_MAX_PIXELS))
# A damaged image is our one error line; OpenCV's own log lines about it (decoder errors) stay off the console.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def max_pixels() -> int:
    """The pixel limit: ``$FACESWAP_MAX_IMAGE_PIXELS`` (e.g. 250e6) or DEFAULT_MAX_PIXELS."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        value = 0
    if value < 1:
        raise FaceswapError(f"{MAX_PIXELS_ENV}={text!r} is not a positive number of pixels (e.g. 250e6)")
    return value


def check_pixels(width: int, height: int, what) -> None:
    """Refuse a picture of ``width`` x ``height`` over the pixel limit, before anything is decoded."""
    limit = max_pixels()
    if width <= 0 or height <= 0 or width * height > limit:
        raise FaceswapError(f"{what} is {width}x{height} pixels, over the limit of {limit / 1e6:g} Mpx: scale it "
                            f"down, or raise the limit with {MAX_PIXELS_ENV} if you trust the file")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from an image file's header without decoding it; None if the header is unknown."""
    import io
    import warnings

    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None   # our own limit (check_pixels) applies, whatever the format
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Exception:  # noqa: BLE001 - a header Pillow cannot parse: not one of our image formats, or damaged
        return None


# What libpng and libjpeg print straight to stderr about a damaged file, bypassing OpenCV's silenced log:
# a damaged image is our one error line (or none, where it still decodes), never these lines on the console.
_DECODER_NOISE = re.compile(rb"^(libpng (error|warning)|Corrupt JPEG data|Premature end of JPEG|Invalid SOS|Bogus |"
                            rb"Unsupported marker|Warning: unknown JFIF|JPEG datastream|Inconsistent progression)")
_STDERR = threading.Lock()
_sink: list[int] = []   # one memory file, reused, that stderr points at while a picture decodes


def decode(buffer: np.ndarray, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray | None:
    """``cv2.imdecode`` with the decoder libraries' own stderr lines kept off the console (other output
    written meanwhile, by another thread, is passed on). None, or cv2.error, where OpenCV cannot decode it."""
    with _STDERR:
        try:
            if not _sink:
                _sink.append(_memory_file())
            sink, saved = _sink[0], os.dup(2)
        except OSError:   # no stderr to guard (a closed fd 2): decode as it is
            return cv2.imdecode(buffer, flags)
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
        os.dup2(sink, 2)
        try:
            return cv2.imdecode(buffer, flags)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.lseek(sink, 0, os.SEEK_SET)
            written = b""
            while chunk := os.read(sink, 1 << 16):
                written += chunk
            kept = b"".join(line for line in written.splitlines(keepends=True) if not _DECODER_NOISE.match(line))
            if kept:
                os.write(2, kept)


def _chunks_fit(raw: bytes) -> bool:
    """False for a PNG with a chunk longer than the bytes left in the file: OpenCV allocates (and zeroes) what a
    chunk's length field claims before it reads it, so 1 KB claiming a 2 GB chunk took 2 GB and 6 s."""
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return True
    at = 8
    while at + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[at:at + 8])
        at += 12 + length
        if at > len(raw):
            return False
        if kind == b"IEND":
            break
    return True


def _memory_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("faceswap-decoder-stderr")
    handle, name = tempfile.mkstemp()
    os.unlink(name)
    return handle


def read_image(path) -> np.ndarray:
    """Read any image as 8-bit BGR: grayscale is expanded, alpha is dropped, 16-bit is scaled down.

    The size in the file's header is checked against the pixel limit before the pixels are decoded; content
    whose header cannot be read that way (damaged, or a format OpenCV decodes but we do not take, such as
    Radiance HDR, whose float pixels cost 12 bytes each) is refused undecoded."""
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as err:
        raise FaceswapError(f"cannot read image {path}: {err.strerror}") from err
    raw = data.tobytes()
    size = image_size(raw) if data.size else None
    if size is None or not _chunks_fit(raw):
        raise FaceswapError(f"cannot read image {path}: not an image or the file is corrupt")
    check_pixels(*size, f"image {path}")
    try:
        image = decode(data)
    except cv2.error:
        image = None   # OpenCV's own pixel limit, where it reads a header otherwise than Pillow
    if image is None:
        raise FaceswapError(f"cannot read image {path}: not an image or the file is corrupt")
    check_pixels(image.shape[1], image.shape[0], f"image {path}")
    return to_bgr8(image)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Normalise an image array of any depth and channel count to 8-bit, 3-channel BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image)


def list_images(folder) -> list[Path]:
    """Image files of ``folder`` in natural order (frame_2 before frame_10)."""
    folder = Path(folder)
    # Hidden files are skipped: temp files of an interrupted write (lib/fileio.py) are never frames or faces.
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")
             and p.is_file()]
    return sorted(files, key=_natural_key)


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


# ---------------------------------------------------------------------------------------------- sources
def frame_name(stem: str, index: int) -> str:
    """Name of video frame ``index``: ``<stem>_<index:06d>.png``."""
    return f"{stem}_{index:06d}.png"


def frame_index(name: str) -> int | None:
    """The frame index encoded in a frame name (``clip_000042.png`` -> 42), or None."""
    match = re.search(r"_(\d{6,})\.\w+$", name)
    return int(match.group(1)) if match else None


@dataclass
class Frame:
    index: int
    name: str
    image: np.ndarray


class Source:
    """Frames from a video, a folder of images or a single image, with the same interface."""

    def __init__(self, path):
        self.path = Path(path)
        self.info: VideoInfo | None = None
        if not self.path.exists():
            raise FaceswapError(f"input not found: {self.path}")
        if self.path.is_dir():
            self.files = list_images(self.path)
            if not self.files:
                raise FaceswapError(f"no images (jpg/png/...) in folder {self.path}")
        elif self.path.suffix.lower() in IMAGE_EXTS:
            self.files = [self.path]
        else:
            self.files = None
            self.info = probe(self.path)

    @property
    def is_video(self) -> bool:
        return self.info is not None

    @property
    def stem(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name

    @property
    def count(self) -> int:
        return self.info.frame_count if self.info else len(self.files)

    @property
    def fps(self) -> Fraction | None:
        return self.info.fps if self.info else None

    def names(self) -> list[str]:
        """Frame names in order, without decoding anything."""
        if self.info:
            return [frame_name(self.stem, i) for i in range(self.count)]
        return [p.name for p in self.files]

    def frames(self) -> Iterator[Frame]:
        """Stream every frame in order."""
        if self.info:
            for index, image in read_frames(self.path, self.info):
                yield Frame(index, frame_name(self.stem, index), image)
        else:
            for index, file in enumerate(self.files):
                yield Frame(index, file.name, read_image(file))

    def frame(self, index: int) -> Frame:
        """One frame by its index, without decoding the frames before it."""
        if not 0 <= index < self.count:
            raise FaceswapError(f"frame {index} is not in {self.path}: it has frames 0-{self.count - 1}")
        if self.info:
            return Frame(index, frame_name(self.stem, index), read_frame(self.path, index, self.info))
        return Frame(index, self.files[index].name, read_image(self.files[index]))


# ---------------------------------------------------------------------------------------------- writing
class VideoWriter:
    """Encode BGR frames to a video through an ffmpeg pipe, optionally muxing the audio of another file.

    Writes to a temp file beside the target and renames it on ``close()``; ``abort()`` (or an exception
    inside ``with``) removes the temp file, so a failed run never leaves a half video under the final name.
    """

    def __init__(self, path, fps, size: tuple[int, int], codec: str = "libx264", crf: int = 18,
                 preset: str = "veryfast", audio_from=None, metadata: dict | None = None):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FaceswapError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            raise FaceswapError(f"cannot write {self.path}: folder {self.path.parent} is read-only")
        self.width, self.height = size
        from lib.fileio import temp_file
        self.tmp = temp_file(self.path, self.path.suffix or ".mp4")   # a killed run's is cleaned by the next
        self.frames = 0
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-f", "rawvideo",
               "-pix_fmt", "bgr24", "-s", f"{self.width}x{self.height}", "-r", str(fps), "-i", "pipe:0"]
        if audio_from is not None:
            cmd += [*input_args(audio_from), "-map", "0:v:0", "-map", "1:a:0?", "-c:a", "copy"]
        cmd += ["-c:v", codec]
        if codec in ("libx264", "libx265"):
            cmd += ["-crf", str(crf), "-preset", preset, "-pix_fmt", "yuv420p"]
            if codec == "libx265":
                cmd += ["-tag:v", "hvc1", "-x265-params", "log-level=error"]
        elif codec in ("libvpx-vp9", "libvpx"):
            cmd += ["-crf", str(crf), "-b:v", "0", "-pix_fmt", "yuv420p"]
        for key, value in (metadata or {}).items():
            cmd += ["-metadata", f"{key}={value}"]
        if self.path.suffix.lower() in (".mp4", ".mov", ".m4v"):
            cmd += ["-movflags", "+faststart+use_metadata_tags"]
        cmd += [str(self.tmp)]
        self._err = tempfile.TemporaryFile()
        log.debug("ffmpeg: %s", " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._err)
        self._lock = threading.Lock()

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != (self.height, self.width):
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        except BrokenPipeError:
            raise FaceswapError(f"video encoder stopped while writing {self.path}: {self._stderr()}") from None
        self.frames += 1

    def _stderr(self) -> str:
        self._err.seek(0)
        return _last_error(self._err.read().decode(errors="replace"))

    def close(self) -> Path:
        """Finish encoding and move the video to its final name."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        code = self.proc.wait()
        if code != 0 or self.frames == 0:
            reason = self._stderr() if code else "no frames were written"
            self.abort()
            raise FaceswapError(f"writing video {self.path} failed: {reason}")
        self._err.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop encoding and remove the temp file; the final name is never touched."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def mux_audio(video, audio_from, out, shortest: bool = False, metadata: dict | None = None,
              keep_metadata: bool = False) -> Path:
    """Copy ``video``'s picture and ``audio_from``'s first audio stream (if any) into ``out``, atomically,
    with no re-encode. ``shortest`` cuts the audio to the picture's length (audio from a longer reference);
    ``keep_metadata`` keeps ``video``'s container tags and ``metadata`` adds tags."""
    from lib.fileio import atomic_path
    out = Path(out)
    args = input_args(video)
    if audio_from is not None:
        args += [*input_args(audio_from), "-map", "0:v:0", "-map", "1:a:0?"] + (["-shortest"] if shortest else [])
    args += ["-c", "copy"] + (["-map_metadata", "0"] if keep_metadata else [])
    for key, value in (metadata or {}).items():
        args += ["-metadata", f"{key}={value}"]
    if out.suffix.lower() in (".mp4", ".mov", ".m4v"):
        args += ["-movflags", "+faststart+use_metadata_tags"]
    with atomic_path(out) as tmp:
        run_ffmpeg([*args, "-f", muxer_for(out), tmp], f"muxing audio into {out}")
    return out


def muxer_for(path: Path) -> str:
    """ffmpeg's container (muxer) name for a file suffix: temp files keep the suffix but ffmpeg is told."""
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
            ".avi": "avi", ".gif": "gif"}.get(Path(path).suffix.lower(), "mp4")


def read_metadata(path) -> dict[str, str]:
    """Container metadata tags of a media file (lower-case keys), read from ffmpeg's report."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(path)],
                          capture_output=True, text=True, errors="replace")
    tags, inside = {}, False
    for line in proc.stderr.splitlines():
        if re.match(r"^\s{2}Metadata:", line):
            inside = True
            continue
        if inside:
            match = re.match(r"^\s{4}(\S[^:]*?)\s*:\s?(.*)$", line)
            if not match:
                break
            tags[match.group(1).lower()] = match.group(2)
    return tags
