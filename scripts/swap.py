"""Swap B's face into A's video in one command: extract both, train, convert; a second call resumes.

All work lives in a workspace folder (faces, alignments, the model, a state file). Calling again with the
same workspace skips the extractions already done and continues the same model up to the -i iterations
asked for (a larger -i trains more), then converts again. B may be a video or a folder of photos.

example: python faceswap.py swap -a A.mp4 -b B.mp4 -o swapped.mp4 -i 5000
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from lib import registry
from lib.errors import FaceswapError

log = logging.getLogger("faceswap.swap")
STATE = "state.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--input-a", required=True, metavar="VIDEO", help="video whose face is replaced (A)")
    parser.add_argument("-b", "--input-b", required=True, metavar="VIDEO|DIR",
                        help="video or folder of photos of the face to put in (B)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the swapped video to write")
    parser.add_argument("-i", "--iterations", type=int, default=5000,
                        help="train the model up to this many iterations in all (default: 5000); a later call "
                             "with a larger number continues the same model")
    parser.add_argument("-t", "--trainer", default="original", choices=registry.names("train.model"),
                        help="model plugin for a new model (default: original; a resumed model keeps its own)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting for a new model, e.g. -O width=0.5 (see train)")
    parser.add_argument("--batch-size", type=int, default=16, help="training faces per side per step (default: 16)")
    parser.add_argument("--learning-rate", type=float, help="training learning rate (default: train's own)")
    parser.add_argument("--workspace", metavar="DIR",
                        help="folder for faces, alignments and the model (default: workspace/<A>_to_<B>)")
    parser.add_argument("--every-n", type=int, default=1, metavar="N",
                        help="train on the faces of every Nth frame of B's video (default: 1, all)")
    parser.add_argument("--save-interval", type=int, default=250, help="save the model every N steps (default: 250)")
    parser.add_argument("--no-label", action="store_true", help="no visible 'AI-generated' label (the tag stays)")
    parser.add_argument("-c", "--color-adjustment", default="avg-color", choices=registry.names("convert.color"),
                        help="colour matching in convert (default: avg-color)")
    parser.add_argument("-M", "--mask-type", default="extended", choices=registry.names("convert.mask"),
                        help="mask in convert (default: extended)")


def _run_command(module_name: str, argv: list[str]) -> None:
    """Run another faceswap command (its own argument parser and defaults) inside this process."""
    import importlib
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"faceswap.py {module_name.rsplit('.', 1)[1]}")
    module.add_arguments(parser)
    module.run(parser.parse_args([str(a) for a in argv]))


def _fingerprint(path: Path) -> dict:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        return {"path": str(path.resolve()), "files": len(files),
                "size": sum(p.stat().st_size for p in files), "mtime": max((p.stat().st_mtime for p in files), default=0)}
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime}


class Workspace:
    """The swap's folder and its state file (which stages are done, for which inputs)."""

    def __init__(self, root: Path):
        self.root = root
        self.faces_a, self.faces_b = root / "faces_a", root / "faces_b"
        self.alignments_a, self.alignments_b = root / "a_alignments.json", root / "b_alignments.json"
        self.model = root / "model"
        self.state_file = root / STATE
        self.state = {}
        if self.state_file.is_file():
            try:
                self.state = json.loads(self.state_file.read_text())
            except ValueError:
                log.warning("workspace state %s is unreadable: redoing the extractions", self.state_file)

    def done(self, stage: str, fingerprint: dict) -> bool:
        return self.state.get(stage) == fingerprint

    def mark(self, stage: str, fingerprint: dict) -> None:
        from lib.fileio import atomic_write_bytes
        self.state[stage] = fingerprint
        atomic_write_bytes(self.state_file, json.dumps(self.state, indent=1).encode())


def _stage(number: int, title: str) -> None:
    print(f"[{number}/4] {title}", flush=True)


def run(args) -> int:
    from lib.model.store import exists, read_meta

    a, b, out = Path(args.input_a), Path(args.input_b), Path(args.output)
    for path, side in ((a, "A"), (b, "B")):
        if not path.exists():
            raise FaceswapError(f"input {side} not found: {path}")
    if a.is_dir():
        raise FaceswapError(f"input A must be a video, {a} is a folder (B may be a folder of photos)")
    if args.iterations < 1:
        raise FaceswapError("-i/--iterations must be at least 1")
    from scripts.convert import check_output, choose_writer
    convert_args = argparse.Namespace(output=str(out), writer=None)
    check_output(convert_args, choose_writer(convert_args))
    root = Path(args.workspace) if args.workspace else Path("workspace") / f"{a.stem}_to_{b.stem}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FaceswapError(f"cannot create workspace {root}: {err.strerror}") from None
    ws = Workspace(root)
    print(f"swap: workspace {root}", flush=True)
    start = time.perf_counter()

    _stage(1, f"extract A from {a}")
    key_a = _fingerprint(a)
    if ws.done("extract_a", key_a):
        print("      already done", flush=True)
    else:
        _run_command("scripts.extract", ["-i", a, "-o", ws.faces_a, "-p", ws.alignments_a, "--skip-existing"])
        ws.mark("extract_a", key_a)

    _stage(2, f"extract B from {b}")
    key_b = dict(_fingerprint(b), every_n=args.every_n)
    if ws.done("extract_b", key_b):
        print("      already done", flush=True)
    else:
        extra = ["--every-n", args.every_n] if b.is_file() else []
        _run_command("scripts.extract", ["-i", b, "-o", ws.faces_b, "-p", ws.alignments_b, "--skip-existing", *extra])
        ws.mark("extract_b", key_b)

    done = read_meta(ws.model)["iterations"] if exists(ws.model) else 0
    todo = args.iterations - done
    _stage(3, f"train up to {args.iterations} iterations (now {done})")
    if todo <= 0:
        print(f"      already done: the model has {done} iterations (ask for more with -i)", flush=True)
    else:
        train = ["-A", ws.faces_a, "-B", ws.faces_b, "-m", ws.model, "-i", todo, "-b", args.batch_size,
                 "-s", min(args.save_interval, todo)]
        if args.learning_rate:
            train += ["--learning-rate", args.learning_rate]
        if not exists(ws.model):
            train += ["-t", args.trainer, *[x for opt in args.option for x in ("-O", opt)]]
        elif args.option:
            log.warning("-O settings apply to a new model only; the model in %s keeps its own", ws.model)
        _run_command("scripts.train", train)

    _stage(4, f"convert {a} -> {out}")
    convert = ["-i", a, "-o", out, "-m", ws.model, "-p", ws.alignments_a, "-c", args.color_adjustment,
               "-M", args.mask_type]
    if args.no_label:
        convert.append("--no-label")
    _run_command("scripts.convert", convert)
    print(f"swap: done in {time.perf_counter() - start:.0f} s -> {out} (workspace {root}; run again with a larger "
          f"-i to train more)", flush=True)
    return 0
