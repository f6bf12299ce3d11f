"""Train a face-swap model on two folders of faces (from extract): one shared encoder, a decoder per person.

Resumes the model in -m when there is one (same architecture, optimizer state and iteration count).
Stop with Ctrl-C or by typing q + Enter: the model is saved first. Example:

    python faceswap.py train -A faces_a -B faces_b -m model -t original -b 16 -i 5000 -w
"""
from __future__ import annotations

import logging
from pathlib import Path

from lib import registry
from lib.errors import FaceswapError

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("-A", "--input-A", required=True, type=Path, metavar="DIR",
                        help="faces of person A (the one replaced in convert), a folder written by extract")
    parser.add_argument("-B", "--input-B", required=True, type=Path, metavar="DIR",
                        help="faces of person B (the face put into A's video)")
    parser.add_argument("-m", "--model-dir", required=True, type=Path, metavar="DIR",
                        help="model folder: created when new, resumed when it holds a model")
    parser.add_argument("-t", "--trainer", choices=registry.names("train.model"), default=None,
                        help="model plugin (default: original for a new model; an existing model keeps its own)")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting for a new model, e.g. -O size=128 -O variant=liae (see USAGE.md)")
    parser.add_argument("-b", "--batch-size", type=int, default=16, help="faces per side per step (default 16)")
    parser.add_argument("-i", "--iterations", type=int, default=100000,
                        help="steps to train in this run (default 100000)")
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
    parser.add_argument("--mask-type", choices=("extended", "components", "none"), default="extended",
                        help="landmark face mask used by the loss (default extended)")
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
    parser.add_argument("--seed", type=int, default=None, help="random seed for the augmentation")


def _settings(options: list[str]) -> dict:
    settings = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FaceswapError(f"-O {item}: model settings are written KEY=VALUE, e.g. -O size=128")
        settings[key.strip().replace("-", "_")] = value.strip()
    return settings


def _check(args) -> None:
    for name in ("batch_size", "iterations", "save_interval"):
        if getattr(args, name) < 1:
            raise FaceswapError(f"--{name.replace('_', '-')} must be at least 1")
    if args.snapshot_interval < 0:
        raise FaceswapError("--snapshot-interval must be 0 (off) or more")
    if args.coverage is not None and not 0.5 <= args.coverage <= 1.0:
        raise FaceswapError("--coverage must be between 0.5 and 1.0")
    timelapse = (args.timelapse_input_A, args.timelapse_input_B, args.timelapse_output)
    if any(timelapse) and not all(timelapse):
        raise FaceswapError("timelapse needs all of --timelapse-input-A, --timelapse-input-B and --timelapse-output")
    if args.model_dir.exists() and not args.model_dir.is_dir():
        raise FaceswapError(f"-m {args.model_dir} is a file: give a folder for the model")
    from lib.model import losses
    losses.parse(args.loss)


def _strategy(distributed: bool):
    """None for one device; MirroredStrategy over all GPUs, or over two logical CPUs when there is none."""
    if not distributed:
        return None
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        log.warning("--distributed: no GPU found; splitting the CPU into %d logical devices", len(devices))
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.MirroredStrategy()


def run(args) -> int:
    _check(args)
    settings = _settings(args.option)
    from lib.model import data, store
    data.check_folder(args.input_A, "A"), data.check_folder(args.input_B, "B")   # fail fast, before TensorFlow
    resuming = store.exists(args.model_dir)
    meta = store.read_meta(args.model_dir) if resuming else None    # a corrupt model fails here, untouched
    if resuming and args.trainer and args.trainer != meta["plugin"]:
        raise FaceswapError(f"model in {args.model_dir} was trained with '{meta['plugin']}', not "
                            f"'{args.trainer}': pass -t {meta['plugin']} to continue it, or choose a new model folder")
    if resuming and (settings or args.learn_mask):
        raise FaceswapError(f"model settings are fixed when a model is created; {args.model_dir} already holds "
                            f"a '{meta['plugin']}' model: drop -O/--learn-mask or choose a new model folder")
    trained_coverage = float(meta.get("coverage", 1.0)) if resuming else None
    if resuming and args.coverage is not None and args.coverage != trained_coverage:
        raise FaceswapError(f"model in {args.model_dir} was trained with --coverage {trained_coverage}: drop "
                            f"--coverage or choose a new model folder")
    args.coverage = trained_coverage or args.coverage or 1.0

    strategy = _strategy(args.distributed)  # before any other TensorFlow work
    import contextlib
    from lib.model import network as net, preview, trainer
    policy = net.default_precision(not args.no_mixed)
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        if resuming:
            model = store.load_model(args.model_dir, meta["plugin"], policy)
            network, meta, optimizer_state = model.network, model.meta, model.optimizer_state
        else:
            plugin = args.trainer or "original"
            if args.learn_mask:
                settings["learn_mask"] = "true"
            network = net.build_network(plugin, settings, policy)
            meta, optimizer_state = {"plugin": plugin, "iterations": 0, "history": []}, None

    sizes = dict(input_size=network.input_size, output_size=network.output_size, coverage=args.coverage)
    faces = {"a": data.load_faces(args.input_A, "A", **sizes), "b": data.load_faces(args.input_B, "B", **sizes)}
    if faces["a"].centering != faces["b"].centering:
        raise FaceswapError(f"faces of A are '{faces['a'].centering}'-centred but faces of B are "
                            f"'{faces['b'].centering}': extract both with the same --centering")
    if resuming and meta.get("centering", faces["a"].centering) != faces["a"].centering:
        raise FaceswapError(f"model in {args.model_dir} was trained on '{meta['centering']}'-centred faces, these "
                            f"are '{faces['a'].centering}': extract with --centering {meta['centering']}")
    meta.update(plugin=network.plugin_name, settings=network.settings, input_size=network.input_size,
                output_size=network.output_size, learns_mask=network.learns_mask, centering=faces["a"].centering,
                coverage=args.coverage, loss=args.loss, mask_type=args.mask_type, precision=policy,
                parameters=network.count_params())

    aug = data.Augment(network.input_size, network.output_size, args.coverage, flip=not args.no_flip,
                       color=not args.no_augment_color, warp=not args.no_warp,
                       warp_to_landmarks=args.warp_to_landmarks, mask_type=args.mask_type)
    feeders = {side: data.Feeder(faces[side], aug, args.batch_size, seed=None if args.seed is None else args.seed + i)
               for i, side in enumerate("ab")}
    opts = trainer.Options(batch_size=args.batch_size, iterations=args.iterations, save_interval=args.save_interval,
                           snapshot_interval=args.snapshot_interval, loss=args.loss, learning_rate=args.learning_rate,
                           mask_type=args.mask_type, penalized_mask=not args.no_penalized_mask,
                           eye_multiplier=args.eye_multiplier, mouth_multiplier=args.mouth_multiplier,
                           tensorboard=args.tensorboard)
    previewer = _previewer(args, network, faces, aug, data, preview)
    log.info("training '%s' (%.1f M parameters, %d px) from iteration %d: %d faces A, %d faces B, batch %d, %s",
             network.plugin_name, meta["parameters"] / 1e6, network.input_size, meta["iterations"],
             len(faces["a"]), len(faces["b"]), args.batch_size, policy)
    session = trainer.Session(network, opts, policy, strategy, optimizer_state)
    result = trainer.train(session, feeders, args.model_dir, meta, opts, previewer)
    loss = result["loss"]
    log.info("%s: saved %s at iteration %d%s, %.1f EG/s", result["reason"], args.model_dir, result["iterations"],
             f" (loss A {loss[0]:.4f}, B {loss[1]:.4f})" if loss else "", result["egs"])
    return 0


def _previewer(args, network, faces, aug, data, preview):
    """The function called at every save: preview PNG (-w) and timelapse frame, on fixed faces."""
    jobs = []
    if args.write_image:
        samples = {side: data.Sampler(faces[side], aug).batch(_spread(len(faces[side]), 4), augment=False)
                   for side in "ab"}
        jobs.append((lambda _it: args.model_dir / "preview.png", samples))
    if args.timelapse_output:
        args.timelapse_output.mkdir(parents=True, exist_ok=True)
        sizes = dict(input_size=network.input_size, output_size=network.output_size, coverage=args.coverage,
                     min_faces=1)
        sets = {"a": data.load_faces(args.timelapse_input_A, "A (timelapse)", **sizes),
                "b": data.load_faces(args.timelapse_input_B, "B (timelapse)", **sizes)}
        samples = {side: data.Sampler(sets[side], aug).batch(_spread(len(sets[side]), 6), augment=False)
                   for side in "ab"}
        jobs.append((lambda it: args.timelapse_output / f"{it:08d}.png", samples))
    if not jobs:
        return None

    def write(iteration: int) -> None:
        for path_of, samples in jobs:
            image = preview.grid(network, samples["a"][0], samples["b"][0], samples["a"][1], samples["b"][1])
            preview.write(path_of(iteration), image)
    return write


def _spread(count: int, wanted: int) -> list[int]:
    return sorted({int(i) for i in range(0, count, max(1, count // wanted))})[:wanted]
