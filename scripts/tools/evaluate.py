"""Measure a swap: identity, head pose, expression, stability and background against the original video.

Both videos are streamed frame by frame together. In each sampled frame the face of the original (from its
alignments with -p, or detected) and the face of the swapped video (detected) are compared: the swapped
face's dlib ResNet embedding against the references of A, B and any distractors (identity distance and
retrieval: the share of frames whose nearest identity is B), the head pose from the 68 landmarks (degrees),
the expression (landmarks after Procrustes, mouth and eyes, in inter-ocular distances), frame-to-frame
landmark jitter and face colour flicker, and SSIM/PSNR of everything outside the face. Frames of the output
with no face are listed. Writes report.json and a self-contained report.html to -o and prints a summary.

Example:
  python tools.py evaluate --original a.mp4 --swapped swapped.mp4 --ref-a faces_a --ref-b faces_b -o report
"""
from __future__ import annotations

import argparse

from lib.cli import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lib import registry
    parser.add_argument("--original", required=True, metavar="VIDEO",
                        help="the original video (or folder of frames) that was converted")
    parser.add_argument("--swapped", required=True, metavar="VIDEO",
                        help="the swapped video (or folder of frames) written by convert")
    parser.add_argument("--ref-a", required=True, nargs="+", action="extend", metavar="DIR",
                        help="reference faces of A, the person in the original: folders of photos or of faces "
                             "written by extract (several allowed)")
    parser.add_argument("--ref-b", required=True, nargs="+", action="extend", metavar="DIR",
                        help="reference faces of B, the person swapped in (several allowed)")
    parser.add_argument("--distractors", nargs="+", action="extend", default=[], metavar="DIR",
                        help="folders of other people's faces, one folder per person: retrieval must pick B "
                             "among A, B and these")
    parser.add_argument("-p", "--alignments", metavar="FILE",
                        help="alignments file of the original (reused instead of detecting its faces)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for report.json and report.html (created if missing)")
    parser.add_argument("-n", "--every-n", type=positive_int, default=1, metavar="N",
                        help="evaluate every Nth frame only (faster; jitter and flicker are then measured over "
                             "N-frame steps) (default: 1)")
    parser.add_argument("--detector", choices=registry.names("extract.detect"), default="dlib-hog",
                        help="face detector for the swapped frames (and the original without -p) (default: dlib-hog)")
    parser.add_argument("--strip", type=positive_int, default=5, metavar="K",
                        help="how many best and worst frames to show in the report (default: 5)")


def run(args) -> int:
    from tqdm import tqdm

    from lib import report
    from lib.jobs import evaluate as job, params_from_args
    bar = None

    def show(progress) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=progress.total, desc="evaluate", unit="frame", dynamic_ncols=True)
        bar.update(progress.done - bar.n)
    try:
        result = job.run(params_from_args(job.EvaluateParams, args), progress=show)
    finally:
        if bar is not None:
            bar.close()
    print(report.summary_text(result["report"]))
    return 0
