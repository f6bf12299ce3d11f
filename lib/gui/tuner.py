"""The convert tuner: one frame of a video swapped with the blend settings being tried, fast enough to scrub.

The rendering is convert's own (:class:`lib.jobs.convert.FrameRenderer`, which keeps each recent frame's
decoded image, faces and model output, so a change of mask, blur, erode, colour or scaling only re-blends).
Smoothing and the swap direction are fixed per renderer (they change which faces go into the model), so a
session keeps one renderer per (``--smooth``, ``--swap-model``) pair tried lately. Settings are read by
convert's own parser, from the same values as the ``convert`` form, so a value convert refuses is refused
here and the tuned frame is the frame convert writes.
"""
from __future__ import annotations

import argparse
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError

MAX_SESSIONS = 4
RENDERERS = 2      # (smooth, swap direction) pairs kept per session; each holds the model once


class TunerSession:
    """A model and a video opened for tuning."""

    # convert's form fields the tuner sets
    SETTINGS = {"mask_type": "mask-type", "mask_blur": "mask-blur", "mask_erode": "mask-erode",
                "color_adjustment": "color-adjustment", "scaling": "scaling", "detail": "detail", "smooth": "smooth",
                "swap_model": "swap-model"}

    def __init__(self, model_dir: Path, source_path: Path, alignments: Path | None = None,
                 trust_alignments: bool = False):
        self.model_dir, self.source_path, self.alignments_path = Path(model_dir), Path(source_path), alignments
        self.trust_alignments = bool(trust_alignments)
        self._lock = threading.Lock()
        self._renderers: OrderedDict[tuple, object] = OrderedDict()
        defaults = self.parse_settings({})
        self.renderer(defaults)     # load now: a bad model, video or alignments file fails the open

    # -------------------------------------------------------------------------------------------- info
    def info(self) -> dict:
        renderer = next(iter(self._renderers.values()))
        source, model, faces = renderer.source, renderer.model, renderer.faces_by_index
        return {"frames": source.count, "fps": float(source.fps or 25) if source.is_video else None,
                "width": source.info.width if source.is_video else None,
                "height": source.info.height if source.is_video else None,
                "faces_frames": sorted(i for i, found in (faces or {}).items() if found),
                "detect_on_the_fly": faces is None,
                "model": {"name": model.name, "iterations": model.iterations, "learns_mask": model.learns_mask,
                          "output_size": model.output_size}}

    # -------------------------------------------------------------------------------------------- render
    def parse_settings(self, settings: dict) -> argparse.Namespace:
        """The settings as convert's parser reads them (so a value convert refuses is refused here)."""
        from lib.gui import forms
        if not isinstance(settings, dict):
            raise FaceswapError("settings are a table of convert option = value")
        unknown = sorted(set(settings) - set(self.SETTINGS.values()))
        if unknown:
            raise FaceswapError(f"the tuner does not set {', '.join(unknown)}")
        values = {"input": str(self.source_path), "output": "tuned.mp4", "model-dir": str(self.model_dir)}
        if self.alignments_path:
            values["alignments"] = str(self.alignments_path)
        if self.trust_alignments:
            values["trust-alignments"] = True
        values.update({k: v for k, v in settings.items() if v is not None and v != ""})
        return forms.parse("convert", values)

    def renderer(self, args: argparse.Namespace):
        """The FrameRenderer for these settings' smoothing and direction (made, or reused)."""
        from lib.jobs.convert import FrameRenderer
        key = (float(args.smooth), bool(args.swap_model))
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = FrameRenderer(self.model_dir, self.source_path,
                                     str(self.alignments_path) if self.alignments_path else None,
                                     swap_model=args.swap_model, smooth=args.smooth,
                                     trust_alignments=self.trust_alignments)
            self._renderers[key] = renderer
            while len(self._renderers) > RENDERERS:
                self._renderers.popitem(last=False)
        self._renderers.move_to_end(key)
        return renderer

    def render(self, index: int, settings: dict) -> tuple[np.ndarray, np.ndarray]:
        """(original, swapped) frame ``index`` with ``settings`` (convert's form fields)."""
        args = self.parse_settings(settings)
        with self._lock:     # a renderer keeps caches and one model: one render at a time
            renderer = self.renderer(args)
            if not 0 <= index < renderer.count:
                raise FaceswapError(f"frame {index} is not in {self.source_path.name}: it has frames "
                                    f"0-{renderer.count - 1}")
            return renderer.render(index, vars(args))

    def original_jpeg(self, index: int) -> bytes:
        return _jpeg(self.render(index, {})[0])

    def render_jpeg(self, index: int, settings: dict) -> tuple[bytes, dict]:
        start = time.perf_counter()
        _, swapped = self.render(index, settings)
        rendered = time.perf_counter()
        data = _jpeg(swapped)
        end = time.perf_counter()
        return data, {"render_ms": round((rendered - start) * 1000, 1), "jpeg_ms": round((end - rendered) * 1000, 1),
                      "total_ms": round((end - start) * 1000, 1)}

    def convert_values(self, settings: dict, output: str, root) -> dict:
        """The convert form that renders the whole video with these settings."""
        self.parse_settings(settings)
        values = {"input": root.relative(self.source_path), "output": output,
                  "model-dir": root.relative(self.model_dir)}
        if self.alignments_path:
            values["alignments"] = root.relative(self.alignments_path)
        if self.trust_alignments:
            values["trust-alignments"] = True
        values.update({k: v for k, v in settings.items() if v is not None and v != ""})
        return values


def _jpeg(image: np.ndarray, quality: int = 88) -> bytes:
    import cv2
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FaceswapError("could not encode the frame as JPEG")
    return data.tobytes()


class Tuners:
    """The open tuner sessions of one GUI (a few; the oldest is closed when one more is opened)."""

    def __init__(self):
        self._sessions: OrderedDict[str, TunerSession] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, model_dir: Path, source: Path, alignments: Path | None = None,
             trust_alignments: bool = False) -> dict:
        session = TunerSession(model_dir, source, alignments, trust_alignments)
        sid = secrets.token_urlsafe(12)
        with self._lock:
            self._sessions[sid] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return dict(session.info(), session=sid)

    def get(self, sid: str) -> TunerSession:
        with self._lock:
            session = self._sessions.get(sid)
        if session is None:
            raise FaceswapError("this tuner session was closed (too many open): open the model and video again")
        return session
