"""THE model folder: one self-describing file holding architecture settings, weights and optimizer state.

Layout of a model folder::

    model.npz            the model: NumPy archive (no pickle; loading never runs code) holding
                           meta    JSON: format, version, plugin, settings, sizes, centering, iterations,
                                   loss history, weight shapes, training options
                           w0000.. network weights, in the network's own order
                           o0000.. optimizer state (Adam moments ...), same
    model.npz.bak        the previous save (``tools.py model -j restore`` goes back to it)
    snapshots/model_<iterations>.npz   every ``-ss`` iterations
    logs/                TensorBoard event files (``--tensorboard``)

Saving writes a temp file, fsyncs and renames it over ``model.npz``; the old file is first hard-linked to
``model.npz.bak``. Each step is atomic, so a kill at any moment leaves a complete ``model.npz``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from lib.errors import FaceswapError
from lib.fileio import atomic_path
from lib.validate import Count, Finite, Label, Schema, check, load_json, shown

log = logging.getLogger(__name__)

FORMAT = "faceswap-model"
VERSION = 1
MODEL_FILE = "model.npz"
BACKUP_SUFFIX = ".bak"
SNAPSHOTS = "snapshots"
_SNAPSHOT = re.compile(r"^model_(\d{1,12})\.npz$")
MAX_META_BYTES = 16 << 20   # the meta JSON: a few KB plus ~40 bytes of loss history per save
MAX_ARRAYS = 20000

Size = Annotated[int, Field(strict=True, ge=8, le=4096)]
Shape = Annotated[list[Annotated[int, Field(strict=True, ge=0, le=1 << 31)]], Field(max_length=8)]
Setting = Annotated[str, Field(max_length=1024)] | int | float | bool | None


class ModelMeta(Schema):
    """The schema of a model file's ``meta`` (see the module docstring); unknown keys are passed through."""
    format: Literal["faceswap-model"]
    version: Annotated[int, Field(strict=True, ge=0)]
    plugin: Label
    settings: Annotated[dict[Label, Setting], Field(max_length=256)]
    iterations: Count
    input_size: Size
    output_size: Size
    centering: Literal["face", "head"] = "face"
    coverage: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1)] = 1.0
    learns_mask: bool = False
    weights: Annotated[list[Shape], Field(max_length=MAX_ARRAYS)]
    optimizer_state: Annotated[list[Shape], Field(max_length=MAX_ARRAYS)] = []
    history: Annotated[list[tuple[Count, Finite, Finite]], Field(max_length=10_000_000)] = []
    loss: Label | None = None
    precision: Label | None = None
    parameters: Count | None = None
    saved_at: Label | None = None
    last_egs: Finite | None = None
    train_seconds: Annotated[float, Field(strict=False, allow_inf_nan=False, ge=0, le=1e10)] | None = None
    lr_schedule: Label | None = None      # lib/model/trainer.py parse_schedule reads it again
    warmup: Count | None = None
    pretrained: bool = False


def model_file(model_dir) -> Path:
    return Path(model_dir) / MODEL_FILE


def exists(model_dir) -> bool:
    """True when ``model_dir`` holds a saved model (possibly a corrupt one)."""
    return model_file(model_dir).is_file()


# ------------------------------------------------------------------------------------------------ saving
def save(model_dir, meta: dict, weights: list[np.ndarray], optimizer: list[np.ndarray] | None = None,
         keep_backup: bool = True) -> Path:
    """Write the model atomically; the previous save becomes ``model.npz.bak``."""
    model_dir = Path(model_dir)
    bad = first_non_finite(weights)
    if bad is not None:
        raise FaceswapError(f"the weights became NaN/inf by iteration {meta.get('iterations', '?')} (weight {bad}), "
                            f"so they were not saved; {_last_good(model_dir)}: lower --learning-rate or train "
                            f"with --no-mixed")
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_file(model_dir)
    _remove_stale_temps(model_dir)
    meta = dict(meta, format=FORMAT, version=VERSION, saved_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                weights=[list(w.shape) for w in weights],
                optimizer_state=[list(o.shape) for o in optimizer or []])
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    arrays.update({f"w{i:04d}": np.asarray(w) for i, w in enumerate(weights)})
    arrays.update({f"o{i:04d}": np.asarray(o) for i, o in enumerate(optimizer or [])})
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        if keep_backup and target.is_file():
            _link_replace(target, target.with_name(target.name + BACKUP_SUFFIX))
    return target


def first_non_finite(arrays) -> int | None:
    """Index of the first array holding NaN or inf, else None (a run that blew up)."""
    for i, array in enumerate(arrays):
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            return i
    return None


def _last_good(model_dir: Path) -> str:
    """What is on disk now, in words, for the message of a run that blew up."""
    try:
        return f"the last good save (iteration {read_meta(model_dir)['iterations']}) is kept"
    except FaceswapError:
        return "nothing was saved"


def _remove_stale_temps(model_dir: Path) -> None:
    """Temp files of a save that was killed half way (never the model itself): they only take disk space."""
    for stale in model_dir.glob(f".{MODEL_FILE}*"):
        try:
            stale.unlink()
        except OSError:
            pass


def _link_replace(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` atomically: a hard link (free) or a copy, then a rename."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def snapshot(model_dir) -> Path:
    """Keep the current save as ``snapshots/model_<iterations>.npz``."""
    model_dir = Path(model_dir)
    iterations = read_meta(model_dir)["iterations"]
    folder = model_dir / SNAPSHOTS
    folder.mkdir(exist_ok=True)
    target = folder / f"model_{iterations}.npz"
    _link_replace(model_file(model_dir), target)
    return target


def snapshot_iteration(path) -> int | None:
    """The iteration of a snapshot file named ``model_<iterations>.npz``; None for any other name."""
    match = _SNAPSHOT.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_snapshots(model_dir) -> list[Path]:
    """The snapshots of ``model_dir`` in iteration order; files of other names (``model_6 (copy).npz``) are not
    snapshots and are left out."""
    folder = Path(model_dir) / SNAPSHOTS
    files = [p for p in folder.iterdir() if snapshot_iteration(p) is not None and p.is_file()] \
        if folder.is_dir() else []
    return sorted(files, key=snapshot_iteration)


def restore(model_dir, source: Path | None = None) -> str:
    """Put the backup (or the file ``source``, e.g. a snapshot) back as the model, after checking it loads.

    The current model is kept as ``model.npz.bak`` so a restore can itself be undone; a current model that is
    itself broken is kept as ``model.npz.corrupt`` instead (the backup is not overwritten with it).
    Returns what became of the model that was replaced, in words.
    """
    model_dir = Path(model_dir)
    source = Path(source) if source else model_file(model_dir).with_name(MODEL_FILE + BACKUP_SUFFIX)
    if not source.is_file():
        raise FaceswapError(f"nothing to restore: {source} not found (list snapshots with 'tools.py model -j info')")
    _read(source)  # raises a clear error if the backup itself is broken
    target = model_file(model_dir)
    replaced = "there was no model to replace"
    with atomic_path(target) as tmp:
        shutil.copy2(source, tmp)
        if target.is_file():
            try:
                _read(target)
                _link_replace(target, target.with_name(target.name + BACKUP_SUFFIX))
                replaced = f"the model it replaced is now {MODEL_FILE}{BACKUP_SUFFIX}"
            except FaceswapError:
                _link_replace(target, target.with_name(target.name + ".corrupt"))
                replaced = f"the model it replaced was broken and is kept as {MODEL_FILE}.corrupt"
    return replaced


# ------------------------------------------------------------------------------------------------ loading
def _hint(model_dir: Path) -> str:
    return f"restore the backup with 'tools.py model -j restore -m {model_dir}' or train a new model"


def _read(path: Path, arrays: bool = True, finite: bool = True):
    """Meta (and arrays) of a model file; every problem becomes one FaceswapError naming the file.

    The meta is validated (types, ranges, sizes) before any array is read, each array's stored size must match
    the shape the meta declares (so a small file cannot inflate into a huge one), and with ``finite`` weights
    holding NaN/inf (a run that blew up, which would convert to black faces) are refused."""
    hint = _hint(path.parent)
    what = f"model file {path}"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > 2 * MAX_ARRAYS + 1:
                raise ValueError(f"{len(members)} arrays")
            # we save uncompressed: a member that inflates far beyond its stored bytes is a zip bomb
            if any(info.file_size > 20 * info.compress_size + (64 << 10) for info in members):
                raise ValueError("an array inflates far beyond its stored size")
            sizes = {info.filename: info.file_size for info in members}
            if sizes.get("meta.npy", MAX_META_BYTES + 1) > MAX_META_BYTES:
                raise ValueError("no meta" if "meta.npy" not in sizes else "meta too large")
        with np.load(path, allow_pickle=False) as archive:
            raw = archive["meta"]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise ValueError("meta is not JSON text")
            meta = load_json(raw.tobytes(), what, hint)
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError("not a faceswap model")
            version = meta.get("version")
            if type(version) is not int or version < 0:
                raise FaceswapError(f"{what} is corrupt (version {shown(version)} is not a whole number): {hint}")
            if version > VERSION:
                raise FaceswapError(f"{what} has version {version}, this faceswap reads up to {VERSION}: update "
                                    f"faceswap")
            valid = check(ModelMeta, meta, what, hint)
            if not arrays:
                return meta, [], []
            weights = [_array(archive, sizes, f"w{i:04d}", shape) for i, shape in enumerate(valid.weights)]
            optimizer = [_array(archive, sizes, f"o{i:04d}", shape) for i, shape in enumerate(valid.optimizer_state)]
    except FileNotFoundError:
        raise FaceswapError(f"model file not found: {path}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError, OverflowError,
            RuntimeError, NotImplementedError, zlib.error) as err:  # what zipfile and numpy raise on damaged files
        reason = "it holds pickled objects, which faceswap never loads" if "pickle" in str(err) else err
        raise FaceswapError(f"model file {path} is corrupt or not a faceswap model ({reason}): {hint}") from None
    for i, (w, shape) in enumerate(zip(weights, valid.weights)):
        if list(w.shape) != shape or not np.issubdtype(w.dtype, np.floating):
            raise FaceswapError(f"model file {path} is corrupt (weight {i} has shape {w.shape}): {hint}")
    bad = first_non_finite(weights) if finite else None
    if bad is not None:
        raise FaceswapError(f"model file {path} holds NaN/inf weights (weight {bad}; a training run that blew up "
                            f"and would swap in black faces): {hint}")
    return meta, weights, optimizer


def _array(archive, sizes: dict, name: str, shape: list) -> np.ndarray:
    """One array of the archive, read only after its stored size is checked against its declared shape."""
    stored = sizes.get(f"{name}.npy")
    if stored is None:
        raise KeyError(f"array {name} is missing")
    if stored > int(np.prod(shape, dtype=np.float64)) * 8 + 4096:
        raise ValueError(f"array {name} holds more than its declared shape {shape}")
    return archive[name]


def _check_dir(model_dir: Path) -> Path:
    if not model_dir.exists():
        raise FaceswapError(f"model folder not found: {model_dir} (train one with 'faceswap.py train -m {model_dir}')")
    if not model_dir.is_dir():
        raise FaceswapError(f"{model_dir} is a file, not a model folder: pass the folder given to 'train -m'")
    path = model_file(model_dir)
    if not path.is_file():
        raise FaceswapError(f"{model_dir} holds no faceswap model ({MODEL_FILE} missing): pass the folder given "
                            f"to 'train -m'" + (", or restore it from model.npz.bak" if
                                                path.with_name(MODEL_FILE + BACKUP_SUFFIX).is_file() else ""))
    return path


def read_file(path, finite: bool = True) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """Meta, weights and optimizer state of one model file (``model.npz``, its backup or a snapshot).
    ``finite=False`` also returns weights holding NaN/inf (to report them) instead of refusing them."""
    return _read(Path(path), finite=finite)


def read_meta(model_dir) -> dict:
    """The model's description (plugin, settings, iterations, history ...) without loading its weights."""
    return _read(_check_dir(Path(model_dir)), arrays=False)[0]


def read_helper(model_dir, plugin: str, defaults: dict, what: str, missing: str) -> tuple[dict, list, dict]:
    """Meta, weights and settings (``defaults`` overlaid by the file's) of a helper net's folder (the learned
    mask, a face enhancer): ``missing`` is the error when there is none; another plugin's model is refused."""
    path = model_file(model_dir)
    if not path.is_file():
        raise FaceswapError(missing)
    meta, weights, _ = read_file(path)
    if meta.get("plugin") != plugin:
        raise FaceswapError(f"{model_dir} holds a '{meta.get('plugin')}' model, not a {what}: train the {what} "
                            f"again (into a folder of its own)")
    return meta, weights, {key: meta["settings"].get(key, value) for key, value in defaults.items()}


def set_helper_weights(net, weights: list, what: str, model_dir) -> None:
    """Load a helper net's saved weights into the net its settings build; a clear error when they do not fit."""
    if [tuple(w.shape) for w in weights] != [tuple(w.shape) for w in net.get_weights()]:
        raise FaceswapError(f"{what} {model_dir} does not fit its own settings (damaged?): train it again")
    net.set_weights(weights)


@dataclass
class TrainedModel:
    """A saved model rebuilt and ready: what convert, tools and resumed training use."""
    path: Path
    meta: dict
    network: object
    optimizer_state: list = field(default_factory=list, repr=False)
    policy: str = "float32"

    @property
    def name(self) -> str:
        return self.meta["plugin"]

    @property
    def input_size(self) -> int:
        return int(self.meta["input_size"])

    @property
    def output_size(self) -> int:
        return int(self.meta["output_size"])

    @property
    def centering(self) -> str:
        return self.meta.get("centering", "face")

    @property
    def coverage(self) -> float:
        """Share of the aligned crop the model was trained on (1.0: all of it)."""
        return float(self.meta.get("coverage", 1.0))

    @property
    def learns_mask(self) -> bool:
        return bool(self.meta.get("learns_mask", False))

    @property
    def iterations(self) -> int:
        return int(self.meta["iterations"])

    @property
    def settings(self) -> dict:
        return dict(self.meta["settings"])

    def predict(self, faces: np.ndarray, direction: str = "a2b", batch_size: int = 64):
        """Swap ``faces`` (float32 NHWC BGR in [0, 1] at input_size).

        ``a2b`` encodes A and decodes with B's decoder (the swap), ``b2a`` the reverse, ``a2a``/``b2b``
        rebuild a side. Returns (faces, masks or None) as float32 in [0, 1] at output_size.
        """
        identity = {"a2b": "b", "b2a": "a", "a2a": "a", "b2b": "b"}.get(direction)
        if identity is None:
            raise FaceswapError(f"unknown direction '{direction}': use a2b or b2a")
        faces = np.asarray(faces, np.float32)
        if faces.ndim != 4 or faces.shape[1:] != (self.input_size, self.input_size, 3):
            raise FaceswapError(f"model {self.path} takes faces of {self.input_size}x{self.input_size}x3, "
                                f"got {faces.shape[1:]}")
        fn = self._predict_fn(identity)
        full = faces
        if self.coverage < 1.0:
            faces = np.stack([_centre(face, self.coverage, self.input_size) for face in faces]) if len(faces) else faces
        out_faces, out_masks = [], []
        for start in range(0, len(faces), max(1, batch_size)):
            result = fn(faces[start:start + batch_size])
            result = result if isinstance(result, (list, tuple)) else [result]
            out_faces.append(np.asarray(result[0], np.float32))
            if self.learns_mask:
                out_masks.append(np.asarray(result[1], np.float32))
        size = self.output_size
        if first_non_finite(out_faces + out_masks) is not None:   # would be pasted as black faces
            raise FaceswapError(f"model {self.path} gives NaN/inf faces (its arithmetic overflows, though its "
                                f"weights are finite): {_hint(self.path.parent)}")
        faces_out = np.clip(np.concatenate(out_faces), 0, 1) if out_faces else np.zeros((0, size, size, 3), np.float32)
        masks = None
        if self.learns_mask:
            masks = np.clip(np.concatenate(out_masks), 0, 1) if out_masks else np.zeros((0, size, size, 1), np.float32)
        if self.coverage < 1.0:   # the model drew the centre: put it back into the whole crop
            faces_out, masks = _paste_centre(full, faces_out, masks, self.coverage, size)
        return faces_out, masks

    def _predict_fn(self, identity: str):
        cache = self.__dict__.setdefault("_fns", {})
        if identity not in cache:
            import tensorflow as tf
            model = self.network.autoencoders[identity]
            spec = tf.TensorSpec((None, self.input_size, self.input_size, 3), tf.float32)
            cache[identity] = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return cache[identity]


def _centre(face: np.ndarray, coverage: float, size: int) -> np.ndarray:
    """The central ``coverage`` share of a face crop, resized to ``size``."""
    import cv2
    side = face.shape[0]
    region = int(round(side * coverage))
    start = (side - region) // 2
    return cv2.resize(face[start:start + region, start:start + region], (size, size), interpolation=cv2.INTER_AREA)


def _paste_centre(full: np.ndarray, centre: np.ndarray, masks, coverage: float, size: int):
    """Whole crops at ``size``: the input faces, with the model's centre faces (and masks) put in the middle."""
    import cv2
    region = int(round(size * coverage))
    start = (size - region) // 2
    out = np.stack([cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC) for face in full]) if len(full) \
        else np.zeros((0, size, size, 3), np.float32)
    out = np.clip(out, 0, 1).astype(np.float32)
    for i, face in enumerate(centre):
        out[i, start:start + region, start:start + region] = cv2.resize(face, (region, region),
                                                                        interpolation=cv2.INTER_AREA)
    if masks is not None:
        whole = np.zeros((len(masks), size, size, 1), np.float32)
        for i, mask in enumerate(masks):
            whole[i, start:start + region, start:start + region, 0] = cv2.resize(mask[..., 0], (region, region))
        masks = whole
    return out, masks


def load_model(model_dir, plugin: str | None = None, policy: str | None = None) -> TrainedModel:
    """Load the model in ``model_dir`` and rebuild its network with the saved settings.

    ``plugin``: the plugin the caller expects (training with ``-t``); another one is a clear error.
    ``policy``: Keras dtype policy to run in; default mixed on CPUs/GPUs that are faster with it.
    """
    from lib.model.network import build_network, default_precision
    model_dir = Path(model_dir)
    path = _check_dir(model_dir)
    meta, weights, optimizer = _read(path)
    if plugin and meta["plugin"] != plugin:
        raise FaceswapError(f"model in {model_dir} was trained with '{meta['plugin']}', not '{plugin}': pass "
                            f"-t {meta['plugin']} to continue it, or choose a new model folder")
    policy = policy or default_precision()
    network = build_network(meta["plugin"], meta["settings"], policy)
    variables = network.weights
    if len(variables) != len(weights) or any(tuple(v.shape) != w.shape for v, w in zip(variables, weights)):
        raise FaceswapError(f"model file {path} does not match the '{meta['plugin']}' architecture of this "
                            f"faceswap (weights differ): {_hint(model_dir)}")
    for var, value in zip(variables, weights):
        var.assign(value.astype(var.dtype, copy=False) if hasattr(var, "dtype") else value)
    return TrainedModel(path, meta, network, optimizer, policy)
