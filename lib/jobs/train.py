"""The train job: resume or create a model, feed it both people's faces, save, preview and report as it goes.

``run(TrainParams(...), progress, cancel, control)`` is what ``faceswap.py train``, ``swap``, the service and
the GUI call. Progress comes as stage "train" with done/total iterations of this run, the model's own
iteration count, both losses (every report, so a front end can draw curves; each save also appends their
means to the model's history), EG/s, ETA and the path of the latest preview grid.

Cancel: when the flag is set the loop saves the model at the iteration it reached, then :func:`run` raises
:class:`lib.jobs.JobCancelled` whose ``result`` holds the same summary a finished run returns (with
``reason`` = the cancel reason). A :class:`TrainControl` lets a front end ask for a save, a snapshot or a
preview at the next step.

A run ends after ``iterations`` steps or ``time`` (``30m``, ``1h30m``), whichever comes first. A new model
can start from a trained one (``from_model``: the weights that fit are copied, lib/model/transfer.py) with
parts of it left frozen (``freeze``); ``pretrain`` trains one model on the faces of many people (both sides
from the mixed set, sub-folders too) for later models to start from. The learning-rate schedule
(``lr_schedule``, ``warmup``) is saved with the model and continues with its iteration count.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from lib.errors import FaceswapError
from lib.jobs import Cancel, JobCancelled, ProgressFn, Reporter

log = logging.getLogger(__name__)


@dataclass
class TrainParams:
    """``faceswap.py train``'s options (same names and defaults); ``preview_interval`` is for live front ends."""
    input_A: Path
    input_B: Optional[Path]        # None with --pretrain only
    model_dir: Path
    trainer: Optional[str] = None
    option: list[str] = field(default_factory=list)
    batch_size: int = 16
    iterations: int = 100000
    save_interval: int = 250
    snapshot_interval: int = 0
    write_image: bool = False
    timelapse_input_A: Optional[Path] = None
    timelapse_input_B: Optional[Path] = None
    timelapse_output: Optional[Path] = None
    no_flip: bool = False
    no_augment_color: bool = False
    no_warp: bool = False
    warp_to_landmarks: bool = False
    coverage: Optional[float] = None
    loss: str = "ssim"
    learning_rate: float = 5e-5
    mask_type: str = "extended"
    no_penalized_mask: bool = False
    eye_multiplier: float = 3.0
    mouth_multiplier: float = 2.0
    learn_mask: bool = False
    no_mixed: bool = False
    distributed: bool = False
    tensorboard: bool = False
    seed: Optional[int] = None
    time: Optional[str] = None          # "30m", "1h30m", "90s" or seconds: stop (and save) when it is up
    lr_schedule: Optional[str] = None   # flat | cosine[:STEPS[:FLOOR]] | step:EVERY[:FACTOR[:FLOOR]]; None: saved
    warmup: Optional[int] = None        # linear learning-rate warm-up steps; None: the model's own (new: 0)
    from_model: Optional[Path] = None   # a new model starts from this trained model's weights that fit
    freeze: list[str] = field(default_factory=list)   # parts left untrained in this run (encoder, decoder_a ...)
    pretrain: bool = False              # both sides from the faces of -A (and -B), many people, sub-folders too
    preview_interval: int = 0   # also write <model>/preview.png every N steps and after the first (0: only -w)


class TrainControl:
    """What a front end asks of a running training ("save now", "snapshot now", "preview now"); the loop takes
    the requests at its next step. Thread-safe: the GUI calls it from a web request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: set[str] = set()

    def _ask(self, what: str) -> None:
        with self._lock:
            self._asked.add(what)

    def request_save(self) -> None:
        self._ask("save")

    def request_snapshot(self) -> None:
        """Save and keep the save as ``snapshots/model_<iterations>.npz``."""
        self._ask("snapshot")

    def request_preview(self) -> None:
        self._ask("preview")

    def take(self) -> set[str]:
        """The requests made since the last call (the training loop calls this once a step)."""
        with self._lock:
            asked, self._asked = self._asked, set()
        return asked


def parse_settings(options: list[str]) -> dict:
    """``-O KEY=VALUE`` items as a dict of model settings."""
    settings = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FaceswapError(f"-O {item}: model settings are written KEY=VALUE, e.g. -O size=128")
        settings[key.strip().replace("-", "_")] = value.strip()
    return settings


def _check(params: TrainParams) -> float | None:
    """Refuse bad options before anything is loaded; returns the time budget in seconds (None: none)."""
    from lib import duration
    from lib.model import trainer
    for name in ("batch_size", "iterations", "save_interval"):
        if getattr(params, name) < 1:
            raise FaceswapError(f"--{name.replace('_', '-')} must be at least 1")
    if params.input_B is None and not params.pretrain:
        raise FaceswapError("train needs -B DIR (the faces of B), or --pretrain to train on the faces of many "
                            "people in -A")
    seconds = duration.parse(params.time) if params.time is not None else None
    trainer.parse_schedule(params.lr_schedule, params.learning_rate, params.warmup or 0, horizon=1 << 40)
    if params.from_model is not None:
        from lib.model import store
        store.read_meta(params.from_model)   # not a model, or a broken one: one clear line, before any work
    if params.snapshot_interval < 0 or params.preview_interval < 0:
        raise FaceswapError("--snapshot-interval and the preview interval must be 0 (off) or more")
    if params.coverage is not None and not 0.5 <= params.coverage <= 1.0:
        raise FaceswapError("--coverage must be between 0.5 and 1.0")
    timelapse = (params.timelapse_input_A, params.timelapse_input_B, params.timelapse_output)
    if any(timelapse) and not all(timelapse):
        raise FaceswapError("timelapse needs all of --timelapse-input-A, --timelapse-input-B and --timelapse-output")
    if Path(params.model_dir).exists() and not Path(params.model_dir).is_dir():
        raise FaceswapError(f"-m {params.model_dir} is a file: give a folder for the model")
    from lib.fileio import check_writable
    check_writable(params.model_dir, "model folder")   # now, not at the first save after the training time
    from lib.model import losses
    losses.parse(params.loss)
    return seconds


def _schedule(params: TrainParams, meta: dict | None, start: int, timed: bool):
    """This run's learning-rate schedule: the options given, else the model's saved ones, else flat."""
    from lib.model import trainer
    spec = params.lr_schedule or (meta or {}).get("lr_schedule") or "flat"
    warmup = params.warmup if params.warmup is not None else int((meta or {}).get("warmup") or 0)
    if timed and spec.strip().lower() == "cosine":
        raise FaceswapError("--lr-schedule cosine with --time: give the decay length in steps, e.g. "
                            "--lr-schedule cosine:20000 (a time budget does not say how many steps it holds)")
    try:
        return trainer.parse_schedule(spec, params.learning_rate, warmup, horizon=start + params.iterations)
    except FaceswapError:
        if params.lr_schedule or not meta:
            raise
        raise FaceswapError(f"model in {params.model_dir} names an unknown learning-rate schedule {spec!r}: give "
                            f"one with --lr-schedule (e.g. flat)") from None


def _face_folders(root: Path) -> list[Path]:
    """``root`` if it holds face PNGs, and each sub-folder that does (one person each, for --pretrain)."""
    folders = [root] if any(p.suffix.lower() == ".png" for p in root.iterdir() if p.is_file()) else []
    return folders + sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                            and any(q.suffix.lower() == ".png" for q in p.iterdir() if q.is_file()))


def _mixed_faces(roots: list[Path], **sizes):
    """The faces of many people as one set, for --pretrain: every face folder under ``roots`` (one level)."""
    import numpy as np
    from lib.model import data
    sets = []
    for root in roots:
        if not Path(root).is_dir():
            raise FaceswapError(f"faces folder not found: {root} (make it with 'faceswap.py extract')")
        folders = _face_folders(Path(root))
        if not folders:
            raise FaceswapError(f"--pretrain: {root} holds no face PNGs, nor sub-folders of them: give a folder "
                                f"of faces written by extract, or a folder of such folders (one per person)")
        sets += [data.load_faces(folder, folder.name, min_faces=1, **sizes) for folder in folders]
    total = sum(len(s) for s in sets)
    if total < data.MIN_FACES:
        raise FaceswapError(f"--pretrain: {total} faces in {', '.join(map(str, roots))}; training needs at least "
                            f"{data.MIN_FACES}: extract more")
    centerings = {s.centering for s in sets}
    if len(centerings) > 1:
        raise FaceswapError(f"--pretrain: the faces mix centering {', '.join(sorted(centerings))}: extract all of "
                            f"them with the same --centering")
    log.info("pretraining on %d faces from %d folder(s)", total, len(sets))
    return data.FaceSet(Path(roots[0]), np.concatenate([s.images for s in sets]),
                        np.concatenate([s.landmarks for s in sets]), centerings.pop(),
                        [f"{s.folder.name}/{name}" for s in sets for name in s.names])


def _start_from(source: Path, network, policy: str) -> str:
    """Copy the weights of the trained model in ``source`` that fit ``network``; says what was copied."""
    from lib.model import store, transfer
    trained = store.load_model(source, policy=policy)
    summary = transfer.copy_fitting(trained.network, network)
    del trained
    if not summary["copied"]:
        raise FaceswapError(f"--from {source}: none of its weights fits this '{network.plugin_name}' model (other "
                            f"plugin or settings): start from a model of the same plugin and settings")
    text = f"{summary['copied']}/{summary['total']} weights from {source} ({transfer.describe(summary)})"
    log.info("started from %s", text)
    return text


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


def _resume_checks(params: TrainParams, settings: dict) -> tuple[dict | None, float]:
    """The saved model's meta (None for a new model) and the coverage to train with; refuses what would not fit."""
    from lib.model import store
    model_dir = Path(params.model_dir)
    if not store.exists(model_dir):
        return None, params.coverage or 1.0
    meta = store.read_meta(model_dir)            # a corrupt model fails here, untouched
    if params.trainer and params.trainer != meta["plugin"]:
        raise FaceswapError(f"model in {model_dir} was trained with '{meta['plugin']}', not "
                            f"'{params.trainer}': pass -t {meta['plugin']} to continue it, or choose a new model folder")
    if settings or params.learn_mask:
        raise FaceswapError(f"model settings are fixed when a model is created; {model_dir} already holds "
                            f"a '{meta['plugin']}' model: drop -O/--learn-mask or choose a new model folder")
    trained = float(meta.get("coverage", 1.0))
    if params.coverage is not None and params.coverage != trained:
        raise FaceswapError(f"model in {model_dir} was trained with --coverage {trained}: drop "
                            f"--coverage or choose a new model folder")
    return meta, trained


def _previewer(params: TrainParams, network, faces: dict, aug, coverage: float):
    """``write(iteration, saved)``: the preview grid (-w / preview_interval) and, at saves, a timelapse frame."""
    from lib.model import data, preview
    live = params.write_image or params.preview_interval > 0
    sheet = preview.Sheet(network, faces["a"], faces["b"], aug, 4) if live else None
    timelapse = None
    if params.timelapse_output:
        Path(params.timelapse_output).mkdir(parents=True, exist_ok=True)
        sizes = dict(input_size=network.input_size, output_size=network.output_size, coverage=coverage, min_faces=1)
        timelapse = preview.Sheet(network, data.load_faces(params.timelapse_input_A, "A (timelapse)", **sizes),
                                  data.load_faces(params.timelapse_input_B, "B (timelapse)", **sizes), aug, 6)
    if sheet is None and timelapse is None:
        return None
    target = Path(params.model_dir) / "preview.png"

    def write(iteration: int, saved: bool) -> Path | None:
        if timelapse is not None and saved:
            timelapse.write(Path(params.timelapse_output) / f"{iteration:08d}.png")
        if sheet is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)      # a live preview may come before the first save
        return sheet.write(target)
    return write


def run(params: TrainParams, progress: ProgressFn | None = None, cancel: Cancel | None = None,
        control: TrainControl | None = None) -> dict:
    """Train ``params.iterations`` more steps, or for ``params.time``, whichever ends first. Returns {model_dir,
    iterations (the model's total), done (this run), reason ("finished", or "time is up (30m)"), stopped
    (False), egs, loss ([A, B] mean since the previous save), preview (path or None), seconds (this run's
    training time), learning_rate (the last step's)}. Cancelled: saves, then raises JobCancelled with that
    dict (``stopped`` True) as ``result``."""
    seconds = _check(params)
    settings = parse_settings(params.option)
    reporter = Reporter(progress, cancel)
    from lib.model import data, store
    if not params.pretrain:                    # fail fast, before TensorFlow
        data.check_folder(params.input_A, "A"), data.check_folder(params.input_B, "B")
    meta, coverage = _resume_checks(params, settings)
    resuming = meta is not None
    schedule = _schedule(params, meta, int(meta["iterations"]) if meta else 0, seconds is not None)
    model_dir = Path(params.model_dir)
    source = None
    if resuming and params.from_model is not None:
        log.warning("%s already holds a model: --from %s is used only for a new model; resuming this one",
                    model_dir, params.from_model)
    elif params.from_model is not None:
        source = store.read_meta(params.from_model)
        if not params.trainer or params.trainer == source["plugin"]:   # its architecture, -O changing settings
            settings = {**source["settings"], **settings}
        coverage = params.coverage or float(source.get("coverage", 1.0))
    reporter("train", 0, params.iterations, unit="it", message="loading the model and the faces")

    strategy = _strategy(params.distributed)  # before any other TensorFlow work
    from lib.model import network as net, trainer
    policy = net.default_precision(not params.no_mixed)
    with strategy.scope() if strategy else contextlib.nullcontext():
        if resuming:
            model = store.load_model(model_dir, meta["plugin"], policy)
            network, meta, optimizer_state = model.network, model.meta, model.optimizer_state
        else:
            plugin = params.trainer or (source["plugin"] if source else "original")
            if params.learn_mask:
                settings["learn_mask"] = "true"
            if params.seed is not None:          # the same starting weights, run after run
                import keras
                keras.utils.set_random_seed(params.seed)
            network = net.build_network(plugin, settings, policy)
            meta, optimizer_state = {"plugin": plugin, "iterations": 0, "history": []}, None
            if source is not None:
                reporter("train", 0, params.iterations, unit="it", message=f"copying weights from {params.from_model}")
                _start_from(Path(params.from_model), network, policy)

    sizes = dict(input_size=network.input_size, output_size=network.output_size, coverage=coverage)
    if params.pretrain:
        mixed = _mixed_faces([Path(params.input_A)] + ([Path(params.input_B)] if params.input_B else []), **sizes)
        faces = {"a": mixed, "b": mixed}
        meta["pretrained"] = True
    else:
        faces = {"a": data.load_faces(params.input_A, "A", **sizes), "b": data.load_faces(params.input_B, "B", **sizes)}
    centering = faces["a"].centering
    if centering != faces["b"].centering:
        raise FaceswapError(f"faces of A are '{centering}'-centred but faces of B are "
                            f"'{faces['b'].centering}': extract both with the same --centering")
    if resuming and meta.get("centering", centering) != centering:
        raise FaceswapError(f"model in {model_dir} was trained on '{meta['centering']}'-centred faces, these "
                            f"are '{centering}': extract with --centering {meta['centering']}")
    meta.update(plugin=network.plugin_name, settings=network.settings, input_size=network.input_size,
                output_size=network.output_size, learns_mask=network.learns_mask, centering=centering,
                coverage=coverage, loss=params.loss, mask_type=params.mask_type, precision=policy,
                parameters=network.count_params(), lr_schedule=schedule.spec, warmup=schedule.warmup)

    aug = data.Augment(network.input_size, network.output_size, coverage, flip=not params.no_flip,
                       color=not params.no_augment_color, warp=not params.no_warp,
                       warp_to_landmarks=params.warp_to_landmarks, mask_type=params.mask_type)
    opts = trainer.Options(batch_size=params.batch_size, iterations=params.iterations,
                           save_interval=params.save_interval, snapshot_interval=params.snapshot_interval,
                           loss=params.loss, learning_rate=params.learning_rate, mask_type=params.mask_type,
                           penalized_mask=not params.no_penalized_mask, eye_multiplier=params.eye_multiplier,
                           mouth_multiplier=params.mouth_multiplier, tensorboard=params.tensorboard,
                           preview_interval=params.preview_interval, time_limit=seconds, schedule=schedule,
                           freeze=tuple(params.freeze))
    previewer = _previewer(params, network, faces, aug, coverage)
    log.info("training '%s' (%.1f M parameters, %d px) from iteration %d: %d faces A, %d faces B, batch %d, %s, "
             "learning rate %s%s%s", network.plugin_name, meta["parameters"] / 1e6, network.input_size,
             meta["iterations"], len(faces["a"]), len(faces["b"]), params.batch_size, policy, schedule.spec,
             f" after {schedule.warmup} warm-up steps" if schedule.warmup else "",
             f", frozen: {' '.join(params.freeze)}" if params.freeze else "")
    session = trainer.Session(network, opts, policy, strategy, optimizer_state)
    reporter.check()          # stopped while loading: nothing trained, nothing to save
    reporter("train", 0, params.iterations, force=True, unit="it", iteration=int(meta["iterations"]),
             message=f"training from iteration {meta['iterations']}")
    seed = params.seed
    feeders = {side: data.Feeder(faces[side], aug, params.batch_size, seed=None if seed is None else seed + i)
               for i, side in enumerate("ab")}
    result = trainer.train(session, feeders, model_dir, meta, opts, previewer, reporter, reporter.cancel, control)
    result["model_dir"] = str(model_dir)
    if result["stopped"]:
        error = JobCancelled(f"{result['reason']}: saved {model_dir} at iteration {result['iterations']}")
        error.result = result
        raise error
    return result
