"""Swap the faces in a video or folder of frames with a trained model and write the result.

Faces come from the alignments file beside the input (written by extract), or are detected on the fly when
there is none. Each face is swapped by the model, blended back with the chosen mask, colour and scaling
plugins, and the frames are written by a writer plugin: a video keeps the source's fps, frame count and
audio. Every output is tagged as synthetic in its metadata; a small visible label is added unless --no-label.

example: python faceswap.py convert -i A.mp4 -o swapped.mp4 -m model_dir
"""
from __future__ import annotations

import argparse
import logging

from lib import registry
from lib.convert import DETAIL

log = logging.getLogger("faceswap.convert")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    io = parser.add_argument_group("input and output")
    io.add_argument("-i", "--input", required=True, metavar="PATH", help="video file or folder of frames to convert")
    io.add_argument("-o", "--output", required=True, metavar="PATH",
                    help="output video/GIF file, a folder for the images writer, or out.png/out.jpg for one photo")
    io.add_argument("-m", "--model-dir", required=True, metavar="DIR", help="model folder written by 'train -m'")
    io.add_argument("-p", "--alignments", metavar="FILE",
                    help="alignments file (default: the one beside the input; when there is none, faces are "
                         "detected on the fly)")
    io.add_argument("--trust-alignments", action="store_true",
                    help="use the alignments file although the video it describes has another name or file size "
                         "(the video was renamed or re-encoded); another frame size or length is always refused")
    io.add_argument("-r", "--ref", metavar="VIDEO",
                    help="reference video for fps and audio when the input is a folder of frames")
    io.add_argument("--swap-model", action="store_true", help="swap the other way: B -> A instead of A -> B")
    io.add_argument("--rebuild", action="store_true",
                    help="no swap: draw each face as the same person with its own decoder (A -> A; B -> B with "
                         "--swap-model). What the model loses of a face it knows: the floor of a swap's figures")
    io.add_argument("-R", "--frame-ranges", nargs="+", metavar="START-END",
                    help="convert only these frames (0-based, inclusive, e.g. 10-50 90-100); the rest stay as they were")
    io.add_argument("-k", "--keep-unchanged", action="store_true",
                    help="images writer: also write the frames with no swapped face (videos always keep every frame)")
    io.add_argument("-D", "--detector", default="dlib-hog", choices=registry.names("extract.detect"),
                    help="detector for on-the-fly detection when there is no alignments file (default: dlib-hog)")

    who = parser.add_argument_group("which faces")
    who.add_argument("-f", "--filter", nargs="+", metavar="PHOTO",
                     help="swap only faces like the person in these photos (identity embedding distance)")
    who.add_argument("-n", "--nfilter", nargs="+", metavar="PHOTO",
                     help="never swap faces like the person in these photos")
    who.add_argument("-l", "--ref-threshold", type=float, default=0.6,
                     help="embedding distance under which a face counts as the same person (default: 0.6)")

    blend = parser.add_argument_group("blending")
    blend.add_argument("-M", "--mask-type", default="extended", choices=registry.names("convert.mask"),
                       help="region of the face to replace (default: extended)")
    blend.add_argument("--mask-blur", type=float, default=4.0,
                       help="blur of the mask edge, percent of the face crop (default: 4)")
    blend.add_argument("--mask-erode", type=float, default=1.0,
                       help="shrink the mask by this percent of the face crop; negative grows it (default: 1)")
    blend.add_argument("-c", "--color-adjustment", default="avg-color", choices=registry.names("convert.color"),
                       help="match the new face's colour to the old one (default: avg-color)")
    blend.add_argument("-S", "--scaling", default="none", choices=registry.names("convert.scaling"),
                       help="post-process the swapped face, e.g. sharpen (default: none)")
    blend.add_argument("--detail", type=float, default=DETAIL, metavar="BAND",
                       help="0-1: keep the frame's own finest detail, finer than BAND/128 of the face crop (skin "
                            "texture, grain, lashes), which a small model cannot draw; higher is sharper but brings "
                            f"more of the original's features; 0 = off (default: {DETAIL})")
    blend.add_argument("--smooth", type=float, default=2.0, metavar="SIGMA",
                       help="temporal smoothing of the landmarks, in frames (0 = off, default: 2)")
    blend.add_argument("--no-smooth", dest="smooth", action="store_const", const=0.0,
                       help="turn temporal smoothing off")

    out = parser.add_argument_group("writing")
    out.add_argument("-w", "--writer", choices=registry.names("convert.writer"),
                     help="how to write the output (default: images for a folder, gif for .gif, else ffmpeg)")
    out.add_argument("--codec", default="h264", choices=("h264", "h265"), help="ffmpeg writer codec (default: h264)")
    out.add_argument("--crf", type=int, default=18, help="ffmpeg writer quality, 0-51, lower is better (default: 18)")
    out.add_argument("--image-format", default="png", choices=("png", "jpg"), help="images writer format (default: png)")
    out.add_argument("--no-label", action="store_true",
                     help="leave out the visible 'AI-generated' label (the metadata tag is always written)")
    out.add_argument("-b", "--batch-size", type=int, default=16, help="faces per model call (default: 16)")


def run(args) -> int:
    from lib.jobs import params_from_args
    from lib.jobs.convert import ConvertParams, run as convert
    from scripts.progress import ProgressBars
    with ProgressBars(disable=False) as bars:
        stats = convert(params_from_args(ConvertParams, args), progress=bars)
    log.info("swapped %d faces in %d of %d frames at %.1f fps; wrote %d frames to %s", stats["faces"],
             stats["swapped"], stats["frames"], stats["fps"], stats["written"], stats["output"])
    print(f"wrote {stats['output']}")
    return 0

