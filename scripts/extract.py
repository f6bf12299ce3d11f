"""Find, align and save the faces of videos, image folders or photos (face PNGs + an alignments file).

Each face is written as a PNG that carries its own metadata (source, frame, landmarks, alignment
matrix, identity), so training and tools need nothing else. The alignments file (JSON, beside the input
unless -p says otherwise) lists every face of every processed frame, for convert and tools.

Examples:
  faceswap.py extract -i talk.mp4 -o faces/talk
  faceswap.py extract -i a.mp4 b.mp4 -o faces              # batch: faces/a, faces/b, one alignments file each
  faceswap.py extract -i talk.mp4 -o faces -f me1.jpg me2.jpg   # keep only the person in these photos
"""
from __future__ import annotations

import argparse

from lib import registry
from lib.cli import non_negative_int, positive_int


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value < 2:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2 (embedding distance), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="INPUT",
                        help="video file(s), folder(s) of images or image file(s); several = batch mode")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for the face PNGs (batch mode: one subfolder per input)")
    parser.add_argument("-p", "--alignments", metavar="PATH",
                        help="alignments file to write (default: <video>_alignments.json beside a video, "
                             "alignments.json inside a folder of images); an existing folder holds "
                             "<input>_alignments.json for each input (the only form allowed in batch mode)")
    parser.add_argument("-D", "--detector", default="yunet", choices=registry.names("extract.detect"),
                        help="face detector (default: yunet)")
    parser.add_argument("-A", "--aligner", default="dlib-68", choices=registry.names("extract.align"),
                        help="landmark aligner (default: dlib-68)")
    parser.add_argument("-M", "--masks", nargs="*", default=["components", "extended"],
                        choices=registry.names("extract.mask"),
                        help="landmark masks stored in the alignments file (default: components extended)")
    parser.add_argument("--detector-model", metavar="PATH",
                        help="other weights for the detector than the ones its package ships (yunet: an "
                             "OpenCV Zoo YuNet .onnx)")
    parser.add_argument("--size", type=positive_int, default=256, help="side of the face PNGs in pixels (default: 256)")
    parser.add_argument("--centering", choices=("face", "head"), default="face",
                        help="crop framing: face (brows to chin) or head (with hair and ears) (default: face)")
    parser.add_argument("--min-size", type=non_negative_int, default=0, metavar="PX",
                        help="ignore detections smaller than PX pixels (box side) (default: 0)")
    parser.add_argument("-n", "--every-n", type=positive_int, default=1, metavar="N",
                        help="process every Nth frame only (default: 1, every frame)")
    parser.add_argument("--skip-existing", action="store_true",
                        help="resume: keep the frames already in the alignments file and process only the others")
    parser.add_argument("-f", "--filter", nargs="+", metavar="PHOTO",
                        help="keep only faces of the person in these photos (files or folders)")
    parser.add_argument("--nfilter", nargs="+", metavar="PHOTO",
                        help="drop faces of the person(s) in these photos (files or folders)")
    parser.add_argument("--ref-threshold", type=_threshold, default=0.6,
                        help="embedding distance within which a face matches a reference photo (default: 0.6)")
    parser.add_argument("--identity", choices=("auto", "off"), default="auto",
                        help="auto: keep only the dominant person of each input (drops passers-by and false "
                             "detections without reference photos); off: keep every face (default: auto; "
                             "ignored when -f/--nfilter is given)")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=4,
                        help="frames per detector call for image folders (default: 4)")
    parser.add_argument("--detect-every", type=positive_int, default=8, metavar="K",
                        help="in videos, run the full detector every K processed frames and track faces in "
                             "between (1 = detect every frame) (default: 8)")
    parser.add_argument("--rotate", nargs="*", type=float, default=[30, -30, 60, -60, 90, -90], metavar="DEG",
                        help="a frame with no face is tried again rotated by each of these angles (counter-"
                             "clockwise degrees, in order, until one finds a face), for tilted heads; --rotate "
                             "alone turns it off (default: 30 -30 60 -60 90 -90)")
    parser.add_argument("--no-faces", action="store_true", help="write only the alignments file, no face PNGs")


def run(args) -> int:
    from lib.jobs import params_from_args
    from lib.jobs.extract import ExtractParams, run as extract
    from scripts.progress import ProgressBars
    with ProgressBars() as bars:
        result = extract(params_from_args(ExtractParams, args), progress=bars)
    if len(result["inputs"]) > 1:
        print(f"extract: {len(result['inputs'])} inputs, {result['frames']} frames, {result['written']} faces "
              f"written, {result['no_face']} frames with no face, {result['dropped']} faces dropped by the identity "
              f"filter")
    return 0
