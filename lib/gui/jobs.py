"""The GUI's kind of job, ``command``: a form's command run in the worker's child process, as the CLI runs it.

The payload is ``{"command": name, "values": {field id: value}, "root": folder}`` with its paths already made
absolute inside the GUI's root (the job runs in that folder, so relative defaults land there too); the child
parses it again through the command's own parser (lib/gui/forms.py). Commands that have a job in ``lib/jobs``
(extract, train, convert, swap, evaluate, preview) run that job with the worker's progress callback and cancel
flag, so the job page shows stages, counts, losses, EG/s, ETA and previews; every other tool runs its module's
``run(args)`` (cancel then ends its process group).

A training run also takes "save now", "snapshot now" and "preview now" requests: the web app drops a file
named after the request into the job's ``control`` folder and a thread here hands it to the job's
:class:`~lib.jobs.train.TrainControl`. The GUI asks for a fresh preview every few seconds this way.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import os
import threading
import time
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger("faceswap.gui")

KIND = "command"
TARGET = "lib.gui.jobs:run_command"
CONTROL_DIR = "control"
REQUESTS = ("save", "snapshot", "preview")
PREVIEW_EVERY = 5.0          # seconds between live training previews
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".m4v", ".gif")


def job_api(command: str):
    """``(module, params class)`` of the command's job in lib/jobs, or None when it has none (a tool)."""
    try:
        module = importlib.import_module(f"lib.jobs.{command}")
    except ModuleNotFoundError as err:
        if err.name in (f"lib.jobs.{command}",):
            return None
        raise
    run = getattr(module, "run", None)
    if run is None:
        return None
    first = next(iter(inspect.signature(run).parameters.values()))
    annotation = first.annotation
    cls = getattr(module, annotation, None) if isinstance(annotation, str) else annotation
    if not dataclasses.is_dataclass(cls):
        return None
    return module, cls


def submit(queue, command: str, values: dict, root) -> str:
    """Check the form now (a bad form never reaches the queue) and queue it; returns the job id."""
    from lib.gui import forms
    values = forms.confine_values(command, values, root.confine)   # the child gets absolute paths
    namespace = forms.parse(command, values)
    title = f"{command} " + " ".join(_summary(namespace))
    return queue.submit(KIND, {"command": command, "values": values, "root": str(root.path)},
                        title=title.strip()[:200])


def _summary(namespace) -> list[str]:
    """A few words naming what the job works on, for job lists (its input and output names)."""
    words = []
    for dest in ("input", "input_A", "input_a", "original", "model_dir", "output"):
        value = getattr(namespace, dest, None)
        if value:
            value = value[0] if isinstance(value, list) else value
            words.append(Path(str(value)).name)
    return words[:3]


# ---------------------------------------------------------------------------------------------- in the child
def run_command(payload: dict, progress, cancel) -> dict:
    """The job function the worker's child runs for a ``command`` job."""
    from lib.gui import forms
    command = payload.get("command")
    values = payload.get("values")
    if not isinstance(command, str) or not isinstance(values, dict):
        raise FaceswapError("bad job: a command job needs a command name and its form values")
    _quiet_tensorflow()
    root = payload.get("root")
    if root:          # relative defaults (swap's workspace, bench's report) land in the GUI's root, not elsewhere
        if not os.path.isdir(root):
            raise FaceswapError(f"the GUI's root folder {root} is gone")
        os.chdir(root)
    namespace = forms.parse(command, values)
    job_dir = Path(payload.get("_job", {}).get("dir") or ".")
    api = job_api(command)
    started = time.time()
    if api is None:
        code = forms.module_of(command).run(namespace)
        if code:
            raise FaceswapError(f"{command} stopped with exit status {code}")
        result = {}
    else:
        module, params_cls = api
        from lib.jobs import params_from_args
        params = params_from_args(params_cls, namespace)
        kwargs = {}
        if "control" in inspect.signature(module.run).parameters:
            control = _control_for(module)
            if control is not None:
                kwargs["control"] = control
                if hasattr(params, "preview_interval") and not params.preview_interval:
                    params = dataclasses.replace(params, preview_interval=max(1, int(getattr(params, "save_interval",
                                                                                            250))))
                    if getattr(params, "model_dir", None):   # the first preview may come before the first save
                        Path(params.model_dir).mkdir(parents=True, exist_ok=True)
                _watch_requests(job_dir / CONTROL_DIR, control, cancel)
        result = module.run(params, progress, cancel, **kwargs)
    result = _plain(result) if isinstance(result, dict) else {"value": _plain(result)}
    result.update(command=command, seconds=round(time.time() - started, 1), outputs=_outputs(namespace))
    return result


def _quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up lines out of the job's log, as the CLI keeps them off the terminal."""
    import sys

    from lib.cli import _QuietTensorFlowImport
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def _control_for(module):
    for name, obj in vars(module).items():
        if inspect.isclass(obj) and name.endswith("Control") and obj.__module__ == module.__name__:
            return obj()
    return None


def _watch_requests(folder: Path, control, cancel) -> threading.Thread:
    """Hand the web app's request files to ``control`` (and ask for a preview every PREVIEW_EVERY seconds)."""
    folder.mkdir(parents=True, exist_ok=True)

    def loop():
        last_preview = time.monotonic()
        while not cancel.is_set():
            for path in sorted(folder.iterdir()):
                if path.name in REQUESTS:
                    getattr(control, f"request_{path.name}")()
                    log.info("asked for: %s", path.name)
                path.unlink(missing_ok=True)
            if time.monotonic() - last_preview >= PREVIEW_EVERY and hasattr(control, "request_preview"):
                control.request_preview()
                last_preview = time.monotonic()
            time.sleep(0.3)
    thread = threading.Thread(target=loop, name="gui-requests", daemon=True)
    thread.start()
    return thread


def request(queue, job_id: str, what: str) -> None:
    """Web side: ask a running job for ``what`` (save, snapshot, preview)."""
    from lib.fileio import atomic_write_bytes
    if what not in REQUESTS:
        raise FaceswapError(f"unknown request '{what}': one of {', '.join(REQUESTS)}")
    job = queue.get(job_id)
    if job is None:
        raise FaceswapError(f"no job {job_id}")
    if job["state"] != "running" or job["payload"].get("command") not in ("train", "swap"):
        raise FaceswapError(f"job {job_id} is not a running training ({job['state']})")
    folder = queue.job_dir(job_id) / CONTROL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / what, b"")


def _outputs(namespace) -> list[str]:
    """Files the job wrote that the job page can show: the output video or image, an HTML report."""
    out = []
    value = getattr(namespace, "output", None)
    if isinstance(value, str) and value:
        path = Path(value)
        if path.suffix.lower() in VIDEO_SUFFIXES + (".png", ".jpg", ".html", ".json") and path.is_file():
            out.append(str(path))
        elif path.is_dir():
            out += [str(p) for p in sorted(path.glob("*.html"))[:5]]
    return out


def _plain(value):
    """JSON-safe copy of a job's result (paths as text, numpy numbers as floats)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
