"""The swap job: B's face into A's video in one call (extract A, extract B, train, convert) in a workspace.

The workspace folder holds the faces and alignments of both sides, the model and ``state.json``, which
records a content fingerprint (sha256 of the video, or of a photo folder's file names and contents) of the
input each extraction was made from. Calling again with the same workspace:

- skips an extraction whose input has the same content (wherever the file now lives), resumes one that was
  stopped half way, and clears and redoes one whose input changed (new videos under one workspace are used);
- continues the same model up to ``iterations`` in all (a larger number trains more), then converts again.

``time`` (``30m``, ``1h30m``) bounds the training of one call: it stops at ``iterations`` or when the time
is up, whichever comes first, and converts. ``enhance`` (a time) then trains B's face enhancer
(lib/jobs/enhance.py; each call continues it) and converts with it (``-S enhance``). A new workspace's model can continue a trained one
(``model_seed``: the same model, iterations and all) or start from one (``from_model``: the weights that fit,
with ``freeze`` leaving parts of it untrained). Progress comes from the sub-jobs as
stages "extract A", "extract B", "train" and "convert", each opened by a report whose message says what the
stage does (or that it is already done). Cancel is passed down: training saves before it stops, an
extraction keeps the frames done so far; either way :class:`lib.jobs.JobCancelled` comes out.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field

from lib.convert import DETAIL
from lib.errors import FaceswapError
from lib.validate import Schema, ValidationError, load_json
from lib.jobs import Cancel, Progress, ProgressFn
from lib.jobs.train import TrainControl

log = logging.getLogger(__name__)

# swap's own training defaults, chosen with the quality benchmark on a 2-core CPU (tools.py bench --quality,
# USAGE.md): the lightweight model at 4x train's learning rate, warmed up over 100 steps, makes 3x the steps
# of the original model per minute and at 15 minutes has the pose error and about the identity distance the
# original at train's defaults has at 30.
MODEL = "lightweight"
LEARNING_RATE = 2e-4
WARMUP = 100

STATE = "state.json"
STATE_VERSION = 2
STAGES = {"extract_a": "extract A", "extract_b": "extract B"}


class StateKey(Schema):
    """What an extraction was made from (see :func:`fingerprint`)."""
    kind: Literal["file", "folder"]
    sha256: Annotated[str, Field(strict=True, pattern=r"^[0-9a-f]{64}$")]
    every_n: Annotated[int, Field(strict=True, ge=1, le=10 ** 6)]


class StateEntry(Schema):
    """One extraction in state.json: its input, and whether it finished."""
    input: StateKey
    done: Annotated[bool, Field(strict=True)]


@dataclass
class SwapParams:
    """``faceswap.py swap``'s options (same names and defaults), plus ``model_seed`` and ``preview_interval``."""
    input_a: str
    input_b: str
    output: str
    iterations: int = 5000
    trainer: Optional[str] = None         # a new model's plugin (None: MODEL, or --from's own)
    option: list[str] = field(default_factory=list)
    batch_size: int = 16
    learning_rate: Optional[float] = None  # None: LEARNING_RATE
    loss: str = "ssim"                    # train's --loss (a name or a weighted sum, lib/model/losses.py)
    workspace: Optional[str] = None
    every_n: int = 1
    save_interval: int = 250
    no_label: bool = False
    color_adjustment: str = "avg-color"
    mask_type: str = "extended"
    detail: float = DETAIL                # convert's --detail (the frame's finest detail kept)
    time: Optional[str] = None            # training time of this call ("30m", "1h30m"); with -i, whichever first
    lr_schedule: Optional[str] = None     # train's --lr-schedule (None: the model's own, new: flat)
    warmup: Optional[int] = None          # train's --warmup (None: WARMUP for a new model, else the model's own)
    from_model: Optional[str] = None      # a new model starts from this trained model's weights that fit
    freeze: list[str] = field(default_factory=list)   # parts of the model left untrained (e.g. encoder)
    seed: Optional[int] = None            # random seed: a new model's starting weights, augmentation, enhancer
    model_seed: Optional[str] = None      # a trained model folder to start from when the workspace has none
    preview_interval: int = 0             # training: also write <workspace>/model/preview.png every N steps
    enhance: Optional[str] = None         # train B's face enhancer this long after the model ("5m"), convert with it


class SwapControl(TrainControl):
    """"Save now", "snapshot now" and "preview now" for the training stage of a swap."""


# ---------------------------------------------------------------------------------------------- workspace
def fingerprint(path, every_n: int | None = None) -> dict:
    """What an extraction depends on: the input's content (not its name, place or time) and the frame step."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.iterdir() if p.is_file()):
            digest.update(item.name.encode() + b"\0" + _file_sha256(item).encode() + b"\n")
        kind = "folder"
    else:
        digest.update(_file_sha256(path).encode())
        kind = "file"
    return {"kind": kind, "sha256": digest.hexdigest(), "every_n": every_n or 1}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Workspace:
    """The swap's folder and its state file: which extraction was made from which input, and whether it finished."""

    def __init__(self, root):
        self.root = Path(root)
        self.faces = {"a": self.root / "faces_a", "b": self.root / "faces_b"}
        self.alignments = {"a": self.root / "a_alignments.json", "b": self.root / "b_alignments.json"}
        self.model = self.root / "model"
        self.state_file = self.root / STATE
        self.state = self._load()

    def _load(self) -> dict:
        """The valid entries of state.json; anything else is dropped with a warning (its extraction is redone)."""
        if not self.state_file.is_file():
            return {}
        try:
            doc = load_json(self.state_file.read_bytes(), f"workspace state {self.state_file}", "")
        except (OSError, FaceswapError):
            doc = None
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            log.warning("workspace state %s is unreadable or from another version: redoing the extractions",
                        self.state_file)
            return {}
        state = {}
        for stage, entry in doc.items():
            if stage in STAGES:
                try:
                    state[stage] = StateEntry.model_validate(entry).model_dump()
                except (ValidationError, RecursionError):
                    pass
        if len(state) < len([k for k in doc if k != "version"]):
            log.warning("workspace state %s has invalid entries: redoing those extractions", self.state_file)
        return state

    def entry(self, stage: str) -> dict | None:
        return self.state.get(stage)

    def mark(self, stage: str, key: dict, done: bool) -> None:
        from lib.fileio import atomic_write_bytes
        self.state[stage] = {"input": key, "done": done}
        atomic_write_bytes(self.state_file, json.dumps({"version": STATE_VERSION, **self.state}, indent=1).encode())

    def clear(self, side: str) -> None:
        """Remove one side's faces and alignments (its input changed, or what is there is of unknown origin)."""
        shutil.rmtree(self.faces[side], ignore_errors=True)
        alignments = self.alignments[side]
        for old in (alignments, alignments.with_name(alignments.name + ".bak")):
            old.unlink(missing_ok=True)


def workspace_root(params: SwapParams) -> Path:
    """``params.workspace``, or ``workspace/<A>_to_<B>`` in the current folder."""
    if params.workspace:
        return Path(params.workspace)
    return Path("workspace") / f"{Path(params.input_a).stem}_to_{Path(params.input_b).stem}"


# ---------------------------------------------------------------------------------------------- the job
def _check(params: SwapParams):
    """Refuse bad inputs before anything is created; returns the convert params (the output is checked too)."""
    from lib.jobs import convert
    a, b = Path(params.input_a), Path(params.input_b)
    for path, side in ((a, "A"), (b, "B")):
        if not path.exists():
            raise FaceswapError(f"input {side} not found: {path}")
    if a.is_dir():
        raise FaceswapError(f"input A must be a video, {a} is a folder (B may be a folder of photos)")
    for name in ("iterations", "batch_size", "save_interval", "every_n"):
        value = getattr(params, name)
        if not isinstance(value, int) or value < 1:
            raise FaceswapError(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    from lib import duration
    if params.time is not None:
        duration.parse(params.time)
    if params.enhance is not None:
        duration.parse(params.enhance, "--enhance")
    from lib.model import losses
    losses.parse(params.loss)                  # a bad --loss: one clear line before any extraction
    for seed in (params.model_seed, params.from_model):
        if seed:
            from lib.model import store
            store.read_meta(seed)              # not a model, or a broken one: one clear line, before any work
    convert_params = convert.ConvertParams(input=str(a), output=str(params.output), model_dir="",
                                           color_adjustment=params.color_adjustment, mask_type=params.mask_type,
                                           detail=params.detail,
                                           no_label=params.no_label, scaling="enhance" if params.enhance else "none")
    convert.check_params(convert_params)       # convert's own checks (--detail), before any extraction
    convert.check_output(convert_params, convert.choose_writer(convert_params))
    return convert_params


def run(params: SwapParams, progress: ProgressFn | None = None, cancel: Cancel | None = None,
        control: TrainControl | None = None) -> dict:
    """Extract, train up to ``params.iterations``, convert. Returns {workspace, output, iterations (the model's),
    trained (steps this call), extracted {"a", "b": True when redone, False when skipped}, faces_a, faces_b,
    alignments_a, model_dir, train (the train job's result or None), convert (the convert job's result),
    seconds}."""
    from lib.jobs import convert, extract, train
    from lib.model import store
    convert_params = _check(params)
    cancel = cancel if cancel is not None else Cancel()
    root = workspace_root(params)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FaceswapError(f"cannot create workspace {root}: {err.strerror}") from None
    if not root.is_dir():
        raise FaceswapError(f"workspace {root} is a file: give a folder")
    ws = Workspace(root)
    start = time.perf_counter()

    def say(stage: str, message: str) -> None:
        if progress is not None:
            progress(Progress(stage=stage, message=message))

    def forward(stage: str):
        """The sub-job's progress under this job's stage name."""
        if progress is None:
            return None
        return lambda p: progress(dataclasses.replace(p, stage=stage))

    extracted = {}
    for side, path in (("a", Path(params.input_a)), ("b", Path(params.input_b))):
        stage = f"extract_{side}"
        title = STAGES[stage]
        key = fingerprint(path, params.every_n if side == "b" and path.is_file() else None)
        entry = ws.entry(stage)
        if entry is not None and entry["input"] == key and entry["done"] and ws.alignments[side].is_file():
            say(title, f"{title} from {path}: already done")
            extracted[side] = False
            continue
        resume = entry is not None and entry["input"] == key and not entry["done"]
        if not resume:
            if ws.faces[side].exists() or ws.alignments[side].exists():
                log.info("%s: input %s is new or changed: clearing its old faces and alignments", title, path)
            ws.clear(side)
            ws.mark(stage, key, done=False)
        say(title, f"{title} from {path}" + (" (resuming)" if resume else ""))
        extract.run(extract.ExtractParams(input=str(path), output=str(ws.faces[side]),
                                          alignments=str(ws.alignments[side]), skip_existing=resume,
                                          every_n=key["every_n"]), forward(title), cancel)
        ws.mark(stage, key, done=True)
        extracted[side] = True

    seeded = ""
    if params.model_seed and not store.exists(ws.model):
        _seed(Path(params.model_seed), ws.model)
        seeded = f", seeded from {params.model_seed}"
    elif params.model_seed:
        log.warning("the workspace already has a model (%s): the seed model %s is not used", ws.model,
                    params.model_seed)
    now = store.read_meta(ws.model)["iterations"] if store.exists(ws.model) else 0
    todo = params.iterations - now
    train_result = None
    if todo <= 0:
        say("train", f"train up to {params.iterations} iterations{seeded}: already done: the model has {now} "
                     f"iterations (ask for more with -i)")
    else:
        say("train", f"train up to {params.iterations} iterations (now {now}{seeded})")
        new = not store.exists(ws.model)
        if not new and params.option:
            log.warning("-O settings apply to a new model only; the model in %s keeps its own", ws.model)
        train_params = train.TrainParams(
            input_A=ws.faces["a"], input_B=ws.faces["b"], model_dir=ws.model, iterations=todo,
            batch_size=params.batch_size, save_interval=min(params.save_interval, todo),
            trainer=(params.trainer or (None if params.from_model else MODEL)) if new else None,
            option=list(params.option) if new else [],
            preview_interval=params.preview_interval, time=params.time, lr_schedule=params.lr_schedule,
            warmup=params.warmup if params.warmup is not None or not new else WARMUP,
            from_model=params.from_model if new else None, freeze=list(params.freeze),
            learning_rate=params.learning_rate or LEARNING_RATE, loss=params.loss, seed=params.seed)
        train_result = train.run(train_params, forward("train"), cancel, control)

    enhance_result = None
    if params.enhance:
        from lib.jobs import enhance
        say("enhance", f"train B's face enhancer for {params.enhance} (convert then draws B's face at its size)")
        enhance_result = enhance.run(enhance.EnhanceParams(model_dir=str(ws.model), input=str(ws.faces["b"]),
                                                           side="b", time=params.enhance, seed=params.seed),
                                     forward("enhance"), cancel)

    say("convert", f"convert {params.input_a} -> {params.output}")
    # trust_alignments: the workspace fingerprinted A's content, so a renamed A keeps its (still right) alignments
    convert_result = convert.run(dataclasses.replace(convert_params, model_dir=str(ws.model), trust_alignments=True,
                                                     alignments=str(ws.alignments["a"])), forward("convert"), cancel)
    return {"workspace": str(root), "output": str(params.output), "iterations": store.read_meta(ws.model)["iterations"],
            "trained": train_result["done"] if train_result else 0, "extracted": extracted,
            "faces_a": str(ws.faces["a"]), "faces_b": str(ws.faces["b"]), "alignments_a": str(ws.alignments["a"]),
            "model_dir": str(ws.model), "train": train_result, "enhance": enhance_result, "convert": convert_result,
            "seconds": round(time.perf_counter() - start, 1)}


def _seed(source: Path, model_dir: Path) -> None:
    """Start the workspace's model from a trained one: its model file is copied in (checked again after)."""
    from lib.fileio import atomic_path
    from lib.model import store
    model_dir.mkdir(parents=True, exist_ok=True)
    target = store.model_file(model_dir)
    with atomic_path(target) as tmp:
        shutil.copyfile(store.model_file(source), tmp)
    store.read_meta(model_dir)
    log.info("model seeded from %s (%d iterations)", source, store.read_meta(model_dir)["iterations"])


def evaluate(params: SwapParams, output, every_n: int = 1, progress: ProgressFn | None = None,
             cancel: Cancel | None = None) -> dict:
    """The quality report of a finished swap (lib/jobs/evaluate.py): its output against input A, with the
    workspace's faces of A and B as references and A's alignments; written to the folder ``output``."""
    from lib.jobs import evaluate as job
    ws = Workspace(workspace_root(params))
    return job.run(job.EvaluateParams(original=str(params.input_a), swapped=str(params.output),
                                      ref_a=[str(ws.faces["a"])], ref_b=[str(ws.faces["b"])],
                                      alignments=str(ws.alignments["a"]), output=str(output), every_n=every_n),
                   progress, cancel)
