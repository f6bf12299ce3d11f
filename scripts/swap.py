"""Swap B's face into A's video in one command: extract both, train, convert; a second call resumes.

All work lives in a workspace folder (faces, alignments, the model, a state file). Calling again with the
same workspace skips the extractions of unchanged inputs (compared by content; a changed input is extracted
again) and continues the same model up to the -i iterations asked for (a larger -i trains more), then
converts again. B may be a video or a folder of photos. The work is lib/jobs/swap.py.

example: python faceswap.py swap -a A.mp4 -b B.mp4 -o swapped.mp4 -i 5000
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lib import registry
from lib.convert import DETAIL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--input-a", required=True, metavar="VIDEO", help="video whose face is replaced (A)")
    parser.add_argument("-b", "--input-b", required=True, metavar="VIDEO|DIR",
                        help="video or folder of photos of the face to put in (B)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the swapped video to write")
    parser.add_argument("-i", "--iterations", type=int, default=5000,
                        help="train the model up to this many iterations in all (default: 5000); a later call "
                             "with a larger number continues the same model")
    parser.add_argument("--time", metavar="DURATION",
                        help="train for at most this long in this call, then convert (e.g. 30m, 1h30m, 2h); with "
                             "-i, whichever comes first")
    parser.add_argument("--enhance", metavar="DURATION",
                        help="after training, train B's face enhancer for this long (e.g. 5m; a later call "
                             "continues it) and convert with it (-S enhance): B's face drawn at its size in the "
                             "frame, with the detail learned from B's own frames")
    parser.add_argument("-t", "--trainer", choices=registry.names("train.model"),
                        help="model plugin for a new model (default: lightweight, the fastest to a good swap on a "
                             "CPU; or --from's own; a resumed model keeps its own)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting for a new model, e.g. -O width=0.5 (see train)")
    parser.add_argument("--batch-size", type=int, default=16, help="training faces per side per step (default: 16)")
    parser.add_argument("--learning-rate", type=float,
                        help="training learning rate (default: 2e-4, 4x train's: measured to reach a good swap "
                             "sooner)")
    parser.add_argument("--loss", default="ssim",
                        help="training loss or weighted sum of: mae, mse, logcosh, ssim, ms-ssim, gradient; "
                             "e.g. ssim:1,mae:0.5 (default ssim; see train)")
    parser.add_argument("--lr-schedule", metavar="SPEC",
                        help="training learning-rate schedule: flat, cosine[:STEPS[:FLOOR]] or "
                             "step:EVERY[:FACTOR[:FLOOR]] (see train; default: the model's own, flat when new)")
    parser.add_argument("--warmup", type=int, metavar="N",
                        help="raise the learning rate linearly over the model's first N steps (default: 100 for "
                             "a new model; see train)")
    parser.add_argument("--from", dest="from_model", metavar="MODEL_DIR",
                        help="a new model starts from this trained model (e.g. one made with train --pretrain): "
                             "its plugin and settings unless -t/-O are given, and every weight that fits")
    parser.add_argument("--freeze", nargs="+", default=[], metavar="PART",
                        help="leave these parts of the model untrained, e.g. encoder (see train)")
    parser.add_argument("--workspace", metavar="DIR",
                        help="folder for faces, alignments and the model (default: workspace/<A>_to_<B>)")
    parser.add_argument("--every-n", type=int, default=1, metavar="N",
                        help="train on the faces of every Nth frame of B's video (default: 1, all)")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="random seed: a new model's starting weights, the augmentation and the enhancer's training "
                             "(default: none, each run differs)")
    parser.add_argument("--save-interval", type=int, default=250, help="save the model every N steps (default: 250)")
    parser.add_argument("--no-label", action="store_true", help="no visible 'AI-generated' label (the tag stays)")
    parser.add_argument("-c", "--color-adjustment", default="avg-color", choices=registry.names("convert.color"),
                        help="colour matching in convert (default: avg-color)")
    parser.add_argument("-M", "--mask-type", default="extended", choices=registry.names("convert.mask"),
                        help="mask in convert (default: extended)")
    parser.add_argument("--detail", type=float, default=DETAIL, metavar="BAND",
                        help=f"convert keeps the frame's own finest detail (see convert; default: {DETAIL}, 0 = off)")


class _Printer:
    """The terminal's view of the swap: a numbered line per stage, then that stage's progress bar."""

    NUMBERS = {"extract A": 1, "extract B": 2, "train": 3, "convert": 4}

    def __init__(self, root: Path):
        self.root, self.stage, self.bar = root, None, None

    def __call__(self, progress) -> None:
        if self.stage is None:
            print(f"swap: workspace {self.root}", flush=True)
        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            title, _, done = progress.message.partition(": already done")
            print(f"[{self.NUMBERS.get(progress.stage, '?')}/4] {title}", flush=True)
            if _:
                print(f"      already done{done}", flush=True)
            return
        if progress.total and progress.unit and (progress.done or self.bar is not None):
            if self.bar is None:
                from tqdm import tqdm
                self.bar = tqdm(total=progress.total, unit=progress.unit, desc=progress.stage, dynamic_ncols=True,
                                file=sys.stderr, mininterval=1.0)
            if progress.total != self.bar.total:       # training with --time: the steps it holds, as measured
                self.bar.total = progress.total
            if progress.loss_a is not None:
                self.bar.set_postfix_str(f"iter {progress.iteration} loss A {progress.loss_a:.4f} "
                                         f"B {progress.loss_b:.4f} {progress.egs:.1f} EG/s", refresh=False)
            self.bar.update(progress.done - self.bar.n)
            if progress.message and progress.done == progress.total:     # the stage's closing line
                self.close()
                print(f"      {progress.message}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args) -> int:
    from lib.jobs import params_from_args, swap
    params = params_from_args(swap.SwapParams, args)
    printer = _Printer(swap.workspace_root(params))
    try:
        result = swap.run(params, progress=printer)
    finally:
        printer.close()
    print(f"swap: done in {result['seconds']:.0f} s -> {result['output']} (workspace {result['workspace']}; run "
          f"again with a larger -i to train more)", flush=True)
    return 0
