"""The built-in demo (`make demo`): a whole face swap on sample portraits that ship inside our dependencies.

    python -m scripts.demo [--iterations N] [--enhance TIME] [--seconds S] [--out-dir DIR]

1. makes two short moving clips (lib.sample): scikit-image's astronaut portrait (Eileen Collins) as A and
   matplotlib's Grace Hopper portrait as B, both public domain;
2. runs `faceswap.py swap` on them: extract both, train a small fast model and B's face enhancer, convert A's
   clip with B's face;
3. writes sample_output/demo_swap.mp4, measures it (`tools.py evaluate`: report in sample_output/demo_report)
   and says where both are.

Honest limits: each person comes from ONE still photo, so B's training set is that photo seen through the
clip's pan, zoom and tilt plus the trainer's augmentation (warp, flip, colour), and the model trains for
only a few minutes. The result shows the whole pipeline working (alignment, mask, colour, audio, label), not
the quality a real data set and a long training give. Running it again resumes the same model (more
iterations with --iterations).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sample_output"
# Small and fast: the lightweight model at half width trains at ~2 steps a second on 2 CPU cores; a learning
# rate 8x train's default makes the faces recognisable within a few hundred steps (with no warm-up: 500 steps
# are too few to spend 100 of them warming up). The bottleneck is 16 units, not the usual 512: each person is
# one photo, so all the code has to carry is where the crop moved. With 256 units the encoder also kept who
# it saw, and B's decoder, never shown A's code, drew a mosaic of noise for it (no face found in 20 of the
# 75 frames); with 16 it draws Hopper in every frame (distance to her 0.535 against 0.598).
MODEL = ["-t", "lightweight", "-O", "width=0.5", "-O", "dense=16", "--learning-rate", "4e-4", "--warmup", "0"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500, help="training iterations in all (default: 500)")
    parser.add_argument("--enhance", default="90s", metavar="TIME",
                        help="training time of Hopper's face enhancer, which draws her face at its size in the "
                             "frame (default: 90s; 0 = none)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the sample clips (default: 3)")
    parser.add_argument("--out-dir", type=Path, default=OUT, help="folder for everything (default: sample_output)")
    args = parser.parse_args(argv)
    out_dir = args.out_dir
    output = out_dir / "demo_swap.mp4"

    from lib.cli import main as cli_main
    from lib.sample import sample_clip

    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    clip_a, clip_b = out_dir / "demo_astronaut.mp4", out_dir / "demo_hopper.mp4"
    for path, who in ((clip_a, "astronaut"), (clip_b, "hopper")):
        if not path.is_file():
            print(f"demo: making a {args.seconds:g} s moving clip of the '{who}' sample portrait -> {path}", flush=True)
            sample_clip(path, who=who, seconds=args.seconds, fps=25, size=(640, 360))
    workspace = out_dir / "demo_workspace"
    enhance = [] if args.enhance.strip() in ("0", "none") else ["--enhance", args.enhance]
    code = cli_main("faceswap.py", "", {"swap": "scripts.swap"},
                    ["swap", "-a", str(clip_a), "-b", str(clip_b), "-o", str(output),
                     "-i", str(args.iterations), "--batch-size", "16", "--workspace", str(workspace),
                     *MODEL, *enhance])
    if code:
        return code
    print("\ndemo: measuring the swap (tools.py evaluate)", flush=True)
    code = cli_main("tools.py", "", {"evaluate": "scripts.tools.evaluate"},
                    ["evaluate", "--original", str(clip_a), "--swapped", str(output),
                     "--ref-a", str(workspace / "faces_a"), "--ref-b", str(workspace / "faces_b"),
                     "-p", str(workspace / "a_alignments.json"), "-o", str(out_dir / "demo_report")])
    if code:
        return code
    print(f"\ndemo: finished in {time.perf_counter() - start:.0f} s.\n"
          f"  swapped video: {output}  (the astronaut's clip with Grace Hopper's face, her audio track,\n"
          f"                 an 'AI-generated' label and a synthetic-media tag in its metadata)\n"
          f"  its report:    {out_dir / 'demo_report' / 'report.html'}\n"
          f"  inputs:        {clip_a}, {clip_b}\n"
          f"  note: each person is one still photo moved about, and the model trained only {args.iterations} "
          f"iterations:\n        this shows the pipeline, not the quality of a real data set and a long training.",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
