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
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.fileio import atomic_path

log = logging.getLogger(__name__)

FORMAT = "faceswap-model"
VERSION = 1
MODEL_FILE = "model.npz"
BACKUP_SUFFIX = ".bak"
SNAPSHOTS = "snapshots"


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


def list_snapshots(model_dir) -> list[Path]:
    folder = Path(model_dir) / SNAPSHOTS
    files = folder.glob("model_*.npz") if folder.is_dir() else []
    return sorted(files, key=lambda p: int(p.stem.split("_")[1]) if p.stem.split("_")[1].isdigit() else -1)


def restore(model_dir, source: Path | None = None) -> Path:
    """Put the backup (or the file ``source``, e.g. a snapshot) back as the model, after checking it loads.

    The current model is kept as ``model.npz.bak`` so a restore can itself be undone.
    """
    model_dir = Path(model_dir)
    source = Path(source) if source else model_file(model_dir).with_name(MODEL_FILE + BACKUP_SUFFIX)
    if not source.is_file():
        raise FaceswapError(f"nothing to restore: {source} not found (list snapshots with 'tools.py model -j info')")
    _read(source)  # raises a clear error if the backup itself is broken
    target = model_file(model_dir)
    with atomic_path(target) as tmp:
        shutil.copy2(source, tmp)
        if target.is_file():
            try:
                _read(target)
                _link_replace(target, target.with_name(target.name + BACKUP_SUFFIX))
            except FaceswapError:
                pass  # the current model is broken: nothing worth keeping
    return target


# ------------------------------------------------------------------------------------------------ loading
def _hint(model_dir: Path) -> str:
    return f"restore the backup with 'tools.py model -j restore -m {model_dir}' or train a new model"


def _read(path: Path, arrays: bool = True):
    """Meta (and arrays) of a model file; every problem becomes one FaceswapError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["meta"]).decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError("not a faceswap model")
            if not arrays:
                return meta, [], []
            weights = [archive[f"w{i:04d}"] for i in range(len(meta["weights"]))]
            optimizer = [archive[f"o{i:04d}"] for i in range(len(meta.get("optimizer_state", [])))]
    except FileNotFoundError:
        raise FaceswapError(f"model file not found: {path}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise FaceswapError(f"model file {path} is corrupt or not a faceswap model ({err}): "
                            f"{_hint(path.parent)}") from None
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise FaceswapError(f"model file {path} has version {meta.get('version')}, this faceswap reads up to "
                            f"{VERSION}: update faceswap")
    for key in ("plugin", "settings", "iterations", "input_size", "output_size"):
        if key not in meta:
            raise FaceswapError(f"model file {path} is corrupt (meta has no '{key}'): {_hint(path.parent)}")
    for i, (w, shape) in enumerate(zip(weights, meta["weights"])):
        if list(w.shape) != shape or not np.issubdtype(w.dtype, np.floating):
            raise FaceswapError(f"model file {path} is corrupt (weight {i} has shape {w.shape}): {_hint(path.parent)}")
    return meta, weights, optimizer


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


def read_file(path) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """Meta, weights and optimizer state of one model file (``model.npz``, its backup or a snapshot)."""
    return _read(Path(path))


def read_meta(model_dir) -> dict:
    """The model's description (plugin, settings, iterations, history ...) without loading its weights."""
    return _read(_check_dir(Path(model_dir)), arrays=False)[0]


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
