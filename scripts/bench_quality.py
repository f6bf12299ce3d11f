"""Benchmark swap quality per hour of training: identity, pose, expression, jitter, sharpness at checkpoints.

    python scripts/bench_quality.py                                   # default pairs, 5m 15m 30m 60m
    python scripts/bench_quality.py --pair a.mp4 b.mp4 --checkpoints 10m 30m -t original lightweight
    python tools.py bench --quality --checkpoints 5m 15m --lr-schedule cosine:3000 --warmup 200

Trains one swap workspace per model variant and pair, converts both directions at each checkpoint and
evaluates them, beside each original's floors (against a re-encode and a half-resolution copy of itself).
Writes quality.json, quality.png and quality.html to --out and prints the table. The work is
lib/jobs/quality.py; ``tools.py bench --quality`` takes the same options.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.convert import DETAIL  # noqa: E402  (after the path is set)

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    """The quality options (``tools.py bench`` adds them as a group beside its own -t, -b, --frames, --detector)."""
    from lib.cli import positive_int
    from lib.jobs import quality
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("A", "B"), dest="pairs",
                        help="two videos to swap both ways (repeat for more pairs; default: two pairs of "
                             "../shared/data/faces)")
    parser.add_argument("--checkpoints", nargs="+", default=list(quality.CHECKPOINTS), metavar="TIME",
                        help=f"training times to evaluate at, rising (default: {' '.join(quality.CHECKPOINTS)})")
    parser.add_argument("--out", default="bench_quality", metavar="DIR",
                        help="a new folder for quality.json/.png/.html and the work (default: bench_quality)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting of the new models, e.g. -O width=0.5")
    parser.add_argument("--learning-rate", type=float, help="training learning rate (default: train's own)")
    parser.add_argument("--lr-schedule", metavar="SPEC", help="training learning-rate schedule (see train)")
    parser.add_argument("--warmup", type=int, metavar="N", help="learning-rate warm-up steps (see train)")
    parser.add_argument("--loss", help="training loss, e.g. ssim:1,mae:1 (see train; default: train's own)")
    parser.add_argument("--from", dest="from_model", metavar="MODEL_DIR",
                        help="new models start from this trained model (see train --from)")
    parser.add_argument("--freeze", nargs="+", default=[], metavar="PART", help="parts left untrained (see train)")
    parser.add_argument("--eval-every", type=positive_int, default=1, metavar="N",
                        help="evaluate every Nth frame (default: 1, all)")
    parser.add_argument("--distractors", nargs="*", metavar="DIR",
                        help="photo folders of other people for identity retrieval (default: two of "
                             "../shared/data/faces)")
    parser.add_argument("--detail", type=float, default=DETAIL, metavar="BAND",
                        help=f"convert's --detail (default: {DETAIL}; 0 measures the model's own face)")
    parser.add_argument("--no-floors", action="store_true", help="skip the originals' floors")
    parser.add_argument("--label", default="", help="a name for this run in the results")
    parser.add_argument("--keep-videos", action="store_true", help="keep the swapped videos of every checkpoint")
    parser.add_argument("--rebuild", action="store_true",
                        help="at each checkpoint also measure the model rebuilding each person (convert --rebuild: "
                             "A -> A, B -> B), the floor of its swaps' figures")
    parser.add_argument("--enhance", metavar="TIME",
                        help="at each checkpoint also train each side's face enhancer for TIME more (see tools.py "
                             "enhance) and measure both directions with -S enhance as well")


def params_from(args):
    """QualityParams from parsed options (this script's, or ``tools.py bench``'s with -t/-b/--frames/--detector)."""
    from lib.jobs import quality
    return quality.QualityParams(
        output=args.out, pairs=[tuple(pair) for pair in args.pairs], checkpoints=list(args.checkpoints),
        models=list(args.models or ["original"]), batch_sizes=list(args.batch_sizes or [16]),
        option=list(args.option), learning_rate=args.learning_rate, lr_schedule=args.lr_schedule,
        warmup=args.warmup, loss=args.loss, from_model=args.from_model, freeze=list(args.freeze), frames=args.frames,
        eval_every=args.eval_every, distractors=args.distractors, detector=args.detector,
        floors=not args.no_floors, label=args.label, keep_videos=args.keep_videos,
        enhance=args.enhance, detail=args.detail, rebuild=args.rebuild)


def run(args) -> int:
    from lib.jobs import quality
    results = quality.run(params_from(args))
    print(quality.table(results), flush=True)
    out = Path(args.out)
    log.info("results in %s, %s and %s", out / "quality.json", out / "quality.png", out / "quality.html")
    return 0


def main(argv=None) -> int:
    from lib import registry
    from lib.cli import positive_int
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--models", nargs="+", choices=registry.names("train.model"), metavar="MODEL",
                        help="model plugins to compare (default: original)")
    parser.add_argument("-b", "--batch-sizes", nargs="+", type=positive_int, metavar="B",
                        help="training batch sizes to compare (default: 16)")
    parser.add_argument("--frames", type=positive_int, metavar="N", help="use the first N frames of each video")
    parser.add_argument("--detector", default="dlib-hog", choices=registry.names("extract.detect"),
                        help="evaluate's face detector (default: dlib-hog)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from lib.errors import FaceswapError
    try:
        return run(args)
    except FaceswapError as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
