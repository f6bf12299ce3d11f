"""Video helpers: frames out, frames in, fps/info, audio, rescale, rotate, slice and re-encode.

Every action runs through lib/video.py (the static ffmpeg shipped by imageio-ffmpeg); outputs are written
to a temp file beside the target and renamed, so a failed action never leaves half a file.

  extract    video -> folder of frames named <stem>_<index:06d>.png (the names extract/convert use)
  gen-vid    folder of frames (any naming the project writes) -> video; --fps or --ref, audio from --ref
  get-fps    print the frame rate            get-info   print size, fps, frames, duration, codecs, tags
  mux-audio  put the audio of --ref under the picture of -i
  rescale    resize to --size WxH (or W, or 0.5)   rotate   turn by --degrees 90/180/270 (or --transpose)
  slice      cut --start S --duration D (seconds or [HH:]MM:SS[.ms]), frame-accurate
  reencode   rewrite as plain H.264/AAC MP4 with a clean index: the fix for truncated or odd files
"""
from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

ACTIONS = ("extract", "gen-vid", "get-fps", "get-info", "mux-audio", "rescale", "rotate", "slice", "reencode")
WRITES_VIDEO = ("gen-vid", "mux-audio", "rescale", "rotate", "slice", "reencode")


def add_arguments(parser) -> None:
    parser.add_argument("-a", "--action", required=True, choices=ACTIONS, help="what to do (see above)")
    parser.add_argument("-i", "--input", required=True, metavar="PATH",
                        help="input video (a folder of frames for gen-vid)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="output file (a folder for extract); default: beside the input, named after the action")
    parser.add_argument("-r", "--ref", metavar="VIDEO",
                        help="reference video: audio for mux-audio/gen-vid, fps for gen-vid")
    parser.add_argument("--fps", help="frame rate for gen-vid (e.g. 25 or 30000/1001); extract: sample at this rate")
    parser.add_argument("--format", default="png", choices=("png", "jpg"), help="extract: frame image format")
    parser.add_argument("--size", help="rescale: WxH, W (height keeps the aspect) or a factor such as 0.5")
    parser.add_argument("--degrees", type=int, choices=(90, 180, 270), help="rotate: clockwise degrees")
    parser.add_argument("--transpose", choices=("clock", "cclock", "hflip", "vflip"),
                        help="rotate: alternative to --degrees (turn 90 clockwise/anticlockwise or mirror)")
    parser.add_argument("--start", default="0", help="slice: start time, seconds or [HH:]MM:SS[.ms] (default 0)")
    parser.add_argument("--duration", help="slice: length, seconds or [HH:]MM:SS[.ms] (default: to the end)")
    parser.add_argument("--codec", default="libx264", choices=("libx264", "libx265"),
                        help="video codec for actions that encode (default libx264)")
    parser.add_argument("--crf", type=int, default=18, help="quality for actions that encode: lower = better (18)")


def run(args) -> int:
    action = args.action.replace("-", "_")
    return globals()[f"_{action}"](args) or 0


# ---------------------------------------------------------------------------------------------- helpers
def _video_in(args):
    from lib.video import probe
    path = Path(args.input)
    if path.is_dir():
        raise FaceswapError(f"effmpeg -a {args.action} needs a video file, but {path} is a folder "
                            f"(use -a gen-vid to turn a folder of frames into a video)")
    return probe(path)


def _output(args, default_suffix: str) -> Path:
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_{args.action}{default_suffix}")
    return _check_video_out(src, out)


def _check_video_out(src: Path, out: Path) -> Path:
    if out.resolve() == src.resolve():
        raise FaceswapError(f"output {out} is the input: choose another -o")
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif"):
        raise FaceswapError(f"output {out} needs a video extension (.mp4, .mkv, .mov, .webm, .avi)")
    return out


def _encode_args(args, out: Path) -> list[str]:
    """Encoder flags for a re-encoded video that plays anywhere."""
    if out.suffix.lower() == ".gif":
        return []
    if out.suffix.lower() == ".webm":
        return ["-c:v", "libvpx-vp9", "-crf", str(args.crf), "-b:v", "0", "-pix_fmt", "yuv420p", "-c:a", "libopus"]
    codec = ["-c:v", args.codec, "-crf", str(args.crf), "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if args.codec == "libx265":
        codec += ["-tag:v", "hvc1", "-x265-params", "log-level=error"]
    if out.suffix.lower() in (".mp4", ".mov", ".m4v"):
        codec += ["-movflags", "+faststart"]
    return codec + ["-c:a", "aac", "-b:a", "160k"]


def _ffmpeg_to(out: Path, args_before_out: list, what: str) -> Path:
    """Run ffmpeg writing ``out`` atomically, then check the result is a readable video."""
    from lib.fileio import atomic_path
    from lib.video import muxer_for, probe, run_ffmpeg
    with atomic_path(out) as tmp:
        run_ffmpeg([*args_before_out, "-f", muxer_for(out), tmp], what)
        probe(tmp)
    return out


def _seconds(text: str, flag: str) -> float:
    match = re.fullmatch(r"(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)", text.strip())
    if not match:
        raise FaceswapError(f"{flag} '{text}' is not a time: use seconds (12.5) or [HH:]MM:SS[.ms] (00:01:02.5)")
    parts = [p for p in match.groups() if p is not None]
    value = 0.0
    for part in parts:
        value = value * 60 + float(part)
    return value


def _fps(text: str) -> Fraction:
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise FaceswapError(f"--fps '{text}' is not a frame rate: use e.g. 25, 29.97 or 30000/1001") from None
    if fps <= 0:
        raise FaceswapError(f"--fps must be positive, got {text}")
    return fps.limit_denominator(1001)


def _done(out: Path) -> None:
    from lib.video import probe
    info = probe(out)
    print(f"wrote {out}: {info.width}x{info.height}, {info.frame_count} frames at {float(info.fps):.3f} fps"
          f"{', with audio' if info.has_audio else ''}")


# ---------------------------------------------------------------------------------------------- actions
def _extract(args) -> None:
    """Frames named like Source names them, so alignments and faces made from the video match the folder."""
    from lib.video import input_args, run_ffmpeg
    info = _video_in(args)
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_frames")
    if out.exists() and not out.is_dir():
        raise FaceswapError(f"output {out} is a file: extract writes frames into a folder")
    out.mkdir(parents=True, exist_ok=True)
    pattern = out / f"{src.stem}_%06d.{args.format}"
    rate = ["-vf", f"fps={_fps(args.fps)}"] if args.fps else ["-fps_mode", "passthrough"]
    quality = ["-q:v", "2"] if args.format == "jpg" else ["-compression_level", "3"]
    log.info("extracting %d frames of %s to %s", info.frame_count, src, out)
    run_ffmpeg([*input_args(src), "-map", "0:v:0", *rate, *quality, "-start_number", "0", pattern],
               f"extracting frames of {src}")
    count = len(list(out.glob(f"{src.stem}_*.{args.format}")))
    print(f"wrote {count} frames to {out}")


def _gen_vid(args) -> None:
    """Frames in natural order (clip_2 before clip_10) streamed into the encoder: memory stays flat."""
    from tqdm import tqdm

    from lib.video import Source, VideoWriter, probe, read_image
    folder = Path(args.input)
    if not folder.is_dir():
        raise FaceswapError(f"gen-vid needs a folder of frames as -i, but {folder} is not a folder")
    source = Source(folder)
    ref = probe(args.ref) if args.ref else None
    if args.fps:
        fps = _fps(args.fps)
    elif ref:
        fps = ref.fps
    else:
        raise FaceswapError("gen-vid needs the frame rate: pass --fps (e.g. 25) or --ref VIDEO to copy it from")
    out = _check_video_out(folder, Path(args.output) if args.output else folder.with_name(f"{folder.name}.mp4"))
    height, width = read_image(source.files[0]).shape[:2]
    size = (width + width % 2, height + height % 2)  # yuv420p needs even sides
    codec = {".gif": "gif", ".webm": "libvpx-vp9"}.get(out.suffix.lower(), args.codec)
    with VideoWriter(out, fps, size, codec=codec, crf=args.crf, audio_from=args.ref) as writer:
        for frame in tqdm(source.frames(), total=source.count, desc="gen-vid", unit="frame"):
            writer.write(frame.image)
    _done(out)


def _get_fps(args) -> None:
    info = _video_in(args)
    fps = info.fps
    print(f"{float(fps):.3f}" + (f" ({fps.numerator}/{fps.denominator})" if fps.denominator != 1 else ""))


def _get_info(args) -> None:
    from lib.video import read_metadata
    info = _video_in(args)
    fps = info.fps
    rows = [("file", info.path), ("size", f"{info.width}x{info.height}"),
            ("fps", f"{float(fps):.3f}" + (f" ({fps.numerator}/{fps.denominator})" if fps.denominator != 1 else "")),
            ("frames", info.frame_count), ("duration", f"{info.duration:.3f} s"), ("video codec", info.codec),
            ("audio", info.audio_codec or "none")]
    rows += [(f"tag {key}", value) for key, value in read_metadata(info.path).items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _mux_audio(args) -> None:
    from lib.video import mux_audio, probe
    _video_in(args)
    if not args.ref:
        raise FaceswapError("mux-audio needs --ref VIDEO, the file whose audio to copy")
    ref = probe(args.ref)
    if not ref.has_audio:
        raise FaceswapError(f"--ref {args.ref} has no audio stream: nothing to mux")
    out = _output(args, Path(args.input).suffix or ".mp4")
    mux_audio(args.input, args.ref, out)
    _done(out)


def _rescale(args) -> None:
    from lib.video import input_args
    info = _video_in(args)
    if not args.size:
        raise FaceswapError("rescale needs --size: WxH (1280x720), W (1280, height keeps the aspect) or a factor (0.5)")
    text = args.size.lower().strip()
    if re.fullmatch(r"\d+x\d+", text):
        width, height = map(int, text.split("x"))
    elif re.fullmatch(r"\d+", text):
        width = int(text)
        height = round(info.height * width / info.width)
    elif re.fullmatch(r"\d*\.\d+", text):
        width, height = round(info.width * float(text)), round(info.height * float(text))
    else:
        raise FaceswapError(f"--size '{args.size}' is not understood: use WxH (1280x720), W (1280) or a factor (0.5)")
    width, height = width + width % 2, height + height % 2
    if width < 2 or height < 2:
        raise FaceswapError(f"--size {args.size} gives a {width}x{height} video: too small")
    out = _output(args, ".mp4")
    _ffmpeg_to(out, [*input_args(args.input), "-map", "0:v:0", "-map", "0:a?", "-vf", f"scale={width}:{height}:flags=lanczos",
                     *_encode_args(args, out)], f"rescaling {args.input}")
    _done(out)


def _rotate(args) -> None:
    from lib.video import input_args
    _video_in(args)
    filters = {90: "transpose=clock", 180: "transpose=clock,transpose=clock", 270: "transpose=cclock",
               "clock": "transpose=clock", "cclock": "transpose=cclock", "hflip": "hflip", "vflip": "vflip"}
    key = args.degrees or args.transpose
    if key is None:
        raise FaceswapError("rotate needs --degrees 90/180/270 or --transpose clock/cclock/hflip/vflip")
    out = _output(args, ".mp4")
    # -noautorotate: turn the stored pixels, not what a rotation tag would show
    _ffmpeg_to(out, ["-noautorotate", *input_args(args.input), "-map", "0:v:0", "-map", "0:a?", "-vf", filters[key],
                     "-metadata:s:v:0", "rotate=0", *_encode_args(args, out)], f"rotating {args.input}")
    _done(out)


def _slice(args) -> None:
    from lib.video import input_args
    info = _video_in(args)
    start = _seconds(args.start, "--start")
    if start >= info.duration:
        raise FaceswapError(f"--start {args.start} is past the end of {args.input} ({info.duration:.2f} s long)")
    length = ["-t", f"{_seconds(args.duration, '--duration'):.6f}"] if args.duration else []
    out = _output(args, ".mp4")
    # -ss before -i seeks fast; re-encoding makes the cut frame-accurate (no keyframe snapping)
    _ffmpeg_to(out, ["-ss", f"{start:.6f}", *input_args(args.input), *length, "-map", "0:v:0", "-map", "0:a?",
                     *_encode_args(args, out)], f"slicing {args.input}")
    _done(out)


def _reencode(args) -> None:
    """No probe first: the point is to rescue files that probe (and other tools) reject."""
    from lib.video import IMAGE_EXTS, input_args
    src = Path(args.input)
    if not src.is_file():
        raise FaceswapError(f"video not found: {src}" if not src.exists() else f"{src} is a folder, not a video file")
    if src.suffix.lower() in IMAGE_EXTS:
        raise FaceswapError(f"{src} is an image: reencode works on video files")
    out = _output(args, ".mp4")
    try:
        _ffmpeg_to(out, ["-err_detect", "ignore_err", "-fflags", "+genpts+discardcorrupt", *input_args(src),
                         "-map", "0:v:0", "-map", "0:a?", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                         "-fps_mode", "cfr", *_encode_args(args, out)], f"re-encoding {src}")
    except FaceswapError as err:
        raise FaceswapError(f"{err} (ffmpeg cannot find the video's index or data: a file cut short whose index "
                            f"sits at its end cannot be rescued; get a complete copy)") from None
    _done(out)
