"""Train the per-person face enhancer of a swap model: convert -S enhance then draws each swapped face 2-4x
larger, with the detail the enhancer learned from that person's own faces (no downloaded weights).

It trains on one side's faces (the folder extract wrote), each against a small soft copy of itself, and
saves into the model folder (enhancer_a / enhancer_b). Converting A -> B uses B's enhancer; with
--swap-model, A's. Run it after training the swap model; running it again continues (--fresh: a new one).

Example:
  python tools.py enhance -m model -i faces_b --time 10m
  python faceswap.py convert -i a.mp4 -o out.mp4 -m model -p a_alignments.json -S enhance
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    from lib.cli import positive_int
    parser.add_argument("-m", "--model-dir", required=True, metavar="DIR", help="the swap model's folder")
    parser.add_argument("-i", "--input", required=True, metavar="FOLDER",
                        help="faces of the person whose face the enhancer sharpens (extract's faces folder)")
    parser.add_argument("-s", "--side", choices=("a", "b"), default="b",
                        help="which side's faces these are (default b: the face convert puts in)")
    parser.add_argument("--iterations", type=positive_int, metavar="N",
                        help="training steps of this run (default 1500, or until --time)")
    parser.add_argument("--time", metavar="DURATION",
                        help="train for this long (e.g. 5m, 1h); with --iterations, whichever comes first")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=8, help="faces per step (default 8)")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4),
                        help="how many times larger than the model's output a new enhancer draws (default: "
                             "what brings it nearest the faces' size in their frames)")
    parser.add_argument("--fresh", action="store_true", help="start a new enhancer instead of continuing one")
    parser.add_argument("--seed", type=int, help="random seed (repeatable runs)")
    parser.add_argument("--model-share", type=float, default=0.0, metavar="FRACTION",
                        help="share of training inputs that are the swap model's own rebuild of the face instead "
                             "of a synthetic degradation (default 0: measured sharper and truer to the person)")


def run(args) -> int:
    from lib.jobs import enhance as job, params_from_args
    from scripts.progress import ProgressBars
    with ProgressBars() as bars:
        result = job.run(params_from_args(job.EnhanceParams, args), progress=bars)
    print(f"face enhancer of side {result['side'].upper()}: {result['steps']} steps in {result['seconds']:.0f} s "
          f"({result['iterations']} in all), {result['input_size']} -> {result['output_size']} px, loss "
          f"{result['loss_start']:.4f} -> {result['loss_end']:.4f}; saved in {result['folder']}")
    return 0
