"""Train a face-swap model on two folders of faces (from extract): one shared encoder, a decoder per person.

Resumes the model in -m when there is one (same architecture, optimizer state and iteration count).
Stops after -i steps or --time, whichever comes first; or with Ctrl-C or by typing q + Enter: the model is
saved first. Examples:

    python faceswap.py train -A faces_a -B faces_b -m model -t original -b 16 -i 5000 -w
    python faceswap.py train -A faces_a -B faces_b -m model --time 1h30m
    python faceswap.py train --pretrain -A many_people -m base --time 2h    # faces of many people, sub-folders
    python faceswap.py train -A faces_a -B faces_b -m model --from base --freeze encoder --time 30m
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from lib import registry

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("-A", "--input-A", required=True, type=Path, metavar="DIR",
                        help="faces of person A (the one replaced in convert), a folder written by extract")
    parser.add_argument("-B", "--input-B", type=Path, metavar="DIR",
                        help="faces of person B (the face put into A's video); required unless --pretrain")
    parser.add_argument("-m", "--model-dir", required=True, type=Path, metavar="DIR",
                        help="model folder: created when new, resumed when it holds a model")
    parser.add_argument("-t", "--trainer", choices=registry.names("train.model"), default=None,
                        help="model plugin (default: original for a new model; an existing model keeps its own)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting for a new model, e.g. -O size=128 -O variant=liae (see USAGE.md)")
    parser.add_argument("-b", "--batch-size", type=int, default=16, help="faces per side per step (default 16)")
    parser.add_argument("-i", "--iterations", type=int, default=100000,
                        help="steps to train in this run (default 100000)")
    parser.add_argument("--time", metavar="DURATION",
                        help="train for this long, then save and stop (e.g. 90s, 30m, 1h30m, 2h); with -i, "
                             "whichever comes first")
    parser.add_argument("-s", "--save-interval", type=int, default=250, help="save every N steps (default 250)")
    parser.add_argument("-ss", "--snapshot-interval", type=int, default=0,
                        help="also keep a snapshot every N steps in <model>/snapshots (default 0: off)")
    parser.add_argument("-w", "--write-image", action="store_true",
                        help="write <model>/preview.png (A>A, A>B, B>B, B>A on fixed faces) at every save")
    parser.add_argument("--timelapse-input-A", type=Path, metavar="DIR", help="faces of A for timelapse frames")
    parser.add_argument("--timelapse-input-B", type=Path, metavar="DIR", help="faces of B for timelapse frames")
    parser.add_argument("--timelapse-output", type=Path, metavar="DIR",
                        help="folder for one timelapse PNG per save (needs both timelapse inputs)")
    parser.add_argument("--no-flip", action="store_true", help="do not flip faces left-right at random")
    parser.add_argument("--no-augment-color", action="store_true", help="no colour jitter of the faces")
    parser.add_argument("--no-warp", action="store_true", help="no random warp (for fine-tuning a trained model)")
    parser.add_argument("--warp-to-landmarks", action="store_true",
                        help="warp each face onto the landmarks of another face of the same person")
    parser.add_argument("--coverage", type=float, default=None,
                        help="share of the aligned crop (its centre) a new model sees, 0.5-1.0 (default 1.0: "
                             "all of it; convert handles any value; a resumed model keeps its own)")
    parser.add_argument("--loss", default="ssim",
                        help="loss or weighted sum of: mae, mse, logcosh, ssim, ms-ssim, gradient; "
                             "e.g. ssim:1,mae:0.5 (default ssim)")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="Adam learning rate (default 5e-5)")
    parser.add_argument("--lr-schedule", metavar="SPEC",
                        help="learning rate by iteration after the warm-up: flat (the default for a new model), "
                             "cosine[:STEPS[:FLOOR]] (down to FLOOR x the rate over STEPS steps; default: over "
                             "this run's -i, floor 0.1) or step:EVERY[:FACTOR[:FLOOR]] (x FACTOR every EVERY "
                             "steps); saved with the model, which continues it when resumed")
    parser.add_argument("--warmup", type=int, metavar="N",
                        help="raise the learning rate linearly over the model's first N steps (default: the "
                             "model's own; 0 for a new model)")
    parser.add_argument("--from", dest="from_model", type=Path, metavar="MODEL_DIR",
                        help="a new model starts from this trained model: its plugin and settings (unless -t/-O "
                             "say otherwise) and every weight that fits (same part, place and shape)")
    parser.add_argument("--freeze", nargs="+", default=[], metavar="PART",
                        help="leave these parts of the model untrained in this run, e.g. encoder (the parts: "
                             "encoder, decoder_a, decoder_b; iae: inter_a, inter_b, inter_shared, decoder)")
    parser.add_argument("--pretrain", action="store_true",
                        help="train one model on the faces of many people: both sides from -A (and -B), each "
                             "a folder of faces or of sub-folders of faces; new models start from it with --from")
    parser.add_argument("--mask-type", choices=("extended", "components", "learned", "none"), default="extended",
                        help="face mask used by the loss: a landmark mask, or learned (each face's learned mask, "
                             "drawn by 'tools.py mask -f FACES --mask-model DIR') (default extended)")
    parser.add_argument("--no-penalized-mask", action="store_true",
                        help="let the background count in the loss as much as the face")
    parser.add_argument("--eye-multiplier", type=float, default=3.0, help="extra weight of the eyes (default 3)")
    parser.add_argument("--mouth-multiplier", type=float, default=2.0, help="extra weight of the mouth (default 2)")
    parser.add_argument("--learn-mask", action="store_true",
                        help="new model also learns a face mask output (used by convert's 'predicted' mask)")
    parser.add_argument("--no-mixed", action="store_true",
                        help="train in float32 (default: mixed_bfloat16 on bf16 CPUs, mixed_float16 on GPUs)")
    parser.add_argument("--distributed", action="store_true",
                        help="train on all GPUs with tf.distribute.MirroredStrategy (batch split between them)")
    parser.add_argument("--tensorboard", action="store_true", help="log losses and speed to <model>/logs")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed for a new model's starting weights and for the augmentation")


class _StopKeys:
    """Once training runs, Ctrl-C, SIGTERM or a line 'q' on stdin set the job's cancel flag: it saves and stops
    at the next step. A second Ctrl-C stops at once (what was saved before is kept)."""

    def __init__(self, cancel):
        self.cancel = cancel
        self.armed = False
        self._old = {}

    def arm(self) -> None:
        self.armed = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        if sys.stdin is not None and not sys.stdin.closed:
            threading.Thread(target=self._watch_stdin, daemon=True).start()

    def _on_signal(self, signum, _frame):
        if self.cancel.is_set():
            raise KeyboardInterrupt
        self.cancel.set("interrupted" if signum == signal.SIGINT else "terminated")

    def _watch_stdin(self):
        try:
            for line in sys.stdin:
                if line.strip().lower() == "q":
                    self.cancel.set("'q' typed")
                    return
        except (OSError, ValueError):
            return

    def close(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class _Bar:
    """The terminal's view of the job's progress: a tqdm bar with iteration, losses and EG/s."""

    def __init__(self, keys: _StopKeys):
        self.keys, self.bar = keys, None

    def __call__(self, progress) -> None:
        if progress.iteration is None:      # still loading
            return
        if not self.keys.armed:
            self.keys.arm()
        if progress.loss_a is None:         # training starts
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=progress.total, unit="it", dynamic_ncols=True, desc="training", file=sys.stderr,
                            mininterval=1.0)
        if progress.total and progress.total != self.bar.total:    # --time: the steps it holds, as measured
            self.bar.total = progress.total
        self.bar.set_postfix_str(f"iter {progress.iteration} loss A {progress.loss_a:.4f} B {progress.loss_b:.4f} "
                                 f"{progress.egs:.1f} EG/s", refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    from lib.jobs import Cancel, JobCancelled, params_from_args
    from lib.jobs import train as job
    cancel = Cancel()
    keys = _StopKeys(cancel)
    bar = _Bar(keys)
    try:
        result = job.run(params_from_args(job.TrainParams, args), progress=bar, cancel=cancel)
    except JobCancelled as err:
        result = getattr(err, "result", None)
        if result is None:          # stopped before the first step: nothing was trained
            raise
    finally:
        bar.close()
        keys.close()
    loss = result["loss"]
    log.info("%s: saved %s at iteration %d%s, %.1f EG/s", result["reason"], args.model_dir, result["iterations"],
             f" (loss A {loss[0]:.4f}, B {loss[1]:.4f})" if loss else "", result["egs"])
    return 0
