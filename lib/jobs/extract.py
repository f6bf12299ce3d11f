"""The extract job: find, align and save the faces of videos, image folders or photos.

Per input: face PNGs that carry their own metadata (lib.faces) and an alignments file listing every face of
every processed frame (lib.alignments). Several inputs are a batch: the models load once, each input gets
its own face folder and alignments file. Videos are tracked between detector keyframes (lib.extractor).

Progress is one stage per input, ``extract <input name>``, counted in frames; the cancel flag is checked
after every frame. A stopped run (cancel or Ctrl-C) finishes the faces already queued and saves the
frames done so far to the alignments file (atomically; never over a finished file that is not being
resumed), so ``skip_existing`` picks up where it stopped.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from lib.errors import FaceswapError
from lib.jobs import Cancel, JobCancelled, ProgressFn, Reporter

log = logging.getLogger(__name__)


@dataclass
class ExtractParams:
    """The options of ``faceswap.py extract`` (same names and defaults as its argparse dests)."""
    input: list[str] | str                       # videos, image folders or images; several = batch mode
    output: str                                  # face folder (batch: one subfolder per input)
    alignments: str | None = None                # alignments file, or an existing folder for one file per input
    detector: str = "yunet"
    aligner: str = "dlib-68"
    masks: list[str] = field(default_factory=lambda: ["components", "extended"])
    detector_model: str | None = None            # other weights for the detector (yunet)
    size: int = 256                              # side of the face PNGs
    centering: str = "face"                      # face | head
    min_size: int = 0                            # ignore detections smaller than this (pixels)
    every_n: int = 1                             # process every Nth frame
    skip_existing: bool = False                  # resume: keep the frames already in the alignments file
    filter: list[str] | None = None              # keep only the person in these photos
    nfilter: list[str] | None = None             # drop the person(s) in these photos
    ref_threshold: float = 0.6                   # embedding distance of a match
    identity: str = "auto"                       # auto: keep each input's dominant person; off: every face
    batch_size: int = 4                          # frames per detector call (image folders)
    detect_every: int = 8                        # video: full detection every K frames, tracking in between
    rotate: list[float] = field(default_factory=lambda: [30, -30, 60, -60, 90, -90])  # retry angles (lib.rotation)
    no_faces: bool = False                       # write only the alignments file


def run(params: ExtractParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Extract every input of ``params``; returns the totals and one summary per input::

        {"frames", "written", "no_face", "dropped",
         "inputs": [{"input", "output", "alignments", "frames", "written", "no_face", "dropped", "skipped"}]}
    """
    report = Reporter(progress, cancel)
    inputs = _check(params)
    align_dir = Path(params.alignments) if params.alignments and Path(params.alignments).is_dir() else None
    if len(inputs) > 1 and params.alignments and align_dir is None:
        raise FaceswapError("-p/--alignments names one file, but several inputs were given: pass an existing "
                            "folder for the alignments files, or leave -p out")
    if len(set(_name(p) for p in inputs)) < len(inputs):
        raise FaceswapError("two inputs have the same name: their faces would go to the same output folder; "
                            "extract them in separate calls")
    for path in inputs:
        if not path.exists():
            raise FaceswapError(f"input not found: {path}")
    output = Path(params.output)
    if output.exists() and not output.is_dir():
        raise FaceswapError(f"output {output} is a file, not a folder: choose a folder for the faces")
    for path in inputs:
        if path.is_dir() and not params.no_faces and output.resolve() == path.resolve():
            raise FaceswapError(f"output {output} is the input folder: the faces would be mixed with the images "
                                f"(and read as new images next time); choose another folder for -o")
    targets = [(path, output / _name(path) if len(inputs) > 1 else output,
                alignments_target(path, params.alignments, align_dir)) for path in inputs]
    report.check()
    job = _ExtractJob(params, report)
    summaries = [job.run_one(*target) for target in targets]
    totals = {key: sum(s[key] for s in summaries) for key in ("frames", "written", "no_face", "dropped")}
    return {**totals, "inputs": summaries}


def _check(params: ExtractParams) -> list[Path]:
    """The inputs as paths, after the checks argparse makes for the CLI (other callers skip argparse)."""
    from lib.faces import CENTERINGS
    inputs = [Path(params.input)] if isinstance(params.input, (str, os.PathLike)) else [Path(p) for p in params.input]
    if not inputs:
        raise FaceswapError("no input given: name a video, a folder of images or an image")
    whole = {"size": (params.size, 1), "min_size": (params.min_size, 0), "every_n": (params.every_n, 1),
             "batch_size": (params.batch_size, 1), "detect_every": (params.detect_every, 1)}
    for name, (value, least) in whole.items():
        if not isinstance(value, int) or value < least:
            raise FaceswapError(f"{name.replace('_', '-')} must be a whole number of at least {least}, not {value}")
    if not 0 < params.ref_threshold < 2:
        raise FaceswapError(f"ref-threshold must be between 0 and 2 (embedding distance), not {params.ref_threshold}")
    if params.identity not in ("auto", "off"):
        raise FaceswapError(f"identity must be auto or off, not {params.identity!r}")
    if params.centering not in CENTERINGS:
        raise FaceswapError(f"centering must be one of {', '.join(CENTERINGS)}, not {params.centering!r}")
    if not all(isinstance(a, (int, float)) and -360 <= a <= 360 for a in params.rotate or ()):
        raise FaceswapError(f"rotate angles must be degrees between -360 and 360, not {params.rotate}")
    return inputs


def _name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def alignments_target(path: Path, option: str | None, folder: Path | None = None) -> Path:
    """Where the alignments of ``path`` go; checked for writability before any work is done."""
    from lib.alignments import SUFFIX, default_path
    if folder is not None:
        target = folder / (_name(path) + SUFFIX)
    else:
        target = Path(option) if option else default_path(path)
    if not target.parent.is_dir():
        raise FaceswapError(f"cannot write alignments {target}: folder {target.parent} does not exist")
    if target.resolve() == path.resolve() or (target.is_file() and not _is_alignments(target)):
        what = "the input" if target.resolve() == path.resolve() else "a file that is not an alignments file"
        raise FaceswapError(f"-p {target} would overwrite {what}: give the alignments file another name, e.g. "
                            f"{default_path(path).name}")
    if not os.access(target.parent, os.W_OK):
        raise FaceswapError(f"cannot write alignments {target}: folder {target.parent} is read-only; "
                            f"pass -p with a writable file or folder")
    return target


def _is_alignments(path: Path) -> bool:
    """An empty file, or one that starts like an alignments file: safe to replace (it is backed up first)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return not head or b'"faceswap-alignments"' in head


class _ExtractJob:
    """One extract call: the models are loaded once and reused for every input of a batch."""

    def __init__(self, params: ExtractParams, report: Reporter):
        from lib.extractor import Extractor
        from lib.identity import ReferenceFilter
        self.params, self.report = params, report
        options = {"model": params.detector_model} if params.detector_model else {}
        use_identity = bool(params.filter or params.nfilter or params.identity == "auto")
        self.extractor = Extractor(params.detector, params.aligner, params.masks, identity=use_identity,
                                   min_size=params.min_size, rotate=params.rotate, **options)
        self.filter = None
        if params.filter or params.nfilter:
            self.filter = ReferenceFilter.from_photos(params.filter, params.nfilter, params.ref_threshold,
                                                      self.extractor)
        self.auto = self.filter is None and params.identity == "auto"

    def run_one(self, path: Path, out_dir: Path, alignments_path: Path) -> dict:
        from lib.alignments import Alignments, describe, source_entry, source_mismatch
        from lib.fileio import remove_stale_temps
        from lib.video import Source

        params = self.params
        source = Source(path)
        done: dict = {}
        previous = None
        if params.skip_existing and alignments_path.exists():
            previous = Alignments.load(alignments_path)      # corrupt -> clear error, file untouched
            differ = source_mismatch(previous.source, source)
            if differ:
                raise FaceswapError(f"--skip-existing: {alignments_path} describes {describe(previous.source)}, not "
                                    f"{describe(source_entry(source))} ({', '.join(differ)} differ): its frames are "
                                    f"of other footage; run without --skip-existing (the file is backed up), or "
                                    f"pass another -p")
            done = previous.frames
        remove_stale_temps(alignments_path.parent)           # temp files of a run that was killed
        created = []
        if not params.no_faces:
            try:
                created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise FaceswapError(f"cannot create output folder {out_dir}: {err.strerror}") from None
            remove_stale_temps(out_dir)
        try:
            return self._run_one(source, path, out_dir, alignments_path, previous, done)
        except BaseException:
            for folder in created:                            # a failed input leaves no empty folder behind
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            raise

    def _run_one(self, source, path: Path, out_dir: Path, alignments_path: Path, previous, done: dict) -> dict:
        from lib.alignments import Alignments, source_entry
        from lib.facewriter import FaceWriter
        from lib.threads import background

        params, report = self.params, self.report
        alignments = Alignments(source_entry(source), dict(self.extractor.mask_space))
        todo = [i for i, name in enumerate(source.names()) if i % params.every_n == 0 and name not in done]
        wanted = set(todo)
        skipped: list[tuple[str, str]] = []
        if source.is_video:
            frames = (f for f in source.frames() if f.index in wanted)
        else:
            frames = _readable_images(source, wanted, skipped)
        track = source.is_video and params.detect_every > 1
        stats = {"frames": 0, "written": 0, "no_face": 0, "dropped": 0}
        writer = None if params.no_faces else FaceWriter(out_dir, path.name, params.size, params.centering)
        stage = f"extract {path.name}"
        report(stage, 0, len(todo), unit="frames")
        try:
            stream = self.extractor.stream(background(frames, 8, "decode"), track=track,
                                           detect_every=params.detect_every, batch_size=params.batch_size)
            for frame, faces in stream:
                kept = faces if self.filter is None else self.filter.select(frame.image, faces)
                stats["dropped"] += len(faces) - len(kept)
                stats["frames"] += 1
                stats["no_face"] += not kept
                if writer:
                    for index, face in enumerate(kept):
                        writer.submit(frame, index, face)
                alignments.frames[frame.name] = kept       # after its faces are queued: safe to stop
                report(stage, stats["frames"], len(todo), unit="frames")
                report.check()
            if writer:
                writer.finish()
        except (KeyboardInterrupt, JobCancelled):
            if writer:
                writer.finish()
            # Keep what was done so skip_existing can resume, unless that would replace a finished file.
            if stats["frames"] and (previous is not None or not alignments_path.exists()):
                _merge(alignments, previous, source).save(alignments_path, keep_backup=alignments_path.exists())
                log.warning("saved the %d frame(s) done so far to %s: run again with --skip-existing to resume",
                            stats["frames"], alignments_path)
            raise
        except BaseException:
            if writer:
                writer.abort()
            raise
        if self.auto:
            stats["dropped"] += self._keep_dominant(alignments, out_dir if writer else None)
            stats["no_face"] = sum(1 for faces in alignments.frames.values() if not faces)
        stats["written"] = alignments.face_count() if writer else 0
        if not alignments.face_count() and writer and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()       # a failed input leaves no empty folder behind
        if skipped and not stats["frames"]:
            raise FaceswapError(skipped[0][1] if len(skipped) == 1 else
                                f"none of the {len(skipped)} images of {path} could be read ({skipped[0][1]})")
        if stats["frames"] and not alignments.face_count():
            reason = " that passed the identity filter" if stats["dropped"] else ""
            raise FaceswapError(f"no face{reason} found in {path} ({stats['frames']} frame(s) searched): check the "
                                f"input shows a face, or try another detector (-D) or a lower --min-size")
        _merge(alignments, previous, source).save(alignments_path, keep_backup=alignments_path.exists())
        if skipped:
            log.warning("skipped %d unreadable image(s): %s%s", len(skipped), ", ".join(n for n, _ in skipped[:5]),
                        " ..." if len(skipped) > 5 else "")
        where = f" -> {out_dir}" if writer else ""
        report(stage, len(todo), len(todo), force=True, unit="frames",
               message=f"extract: {path.name}: {stats['frames']} frames, {stats['written']} faces written, "
                       f"{stats['no_face']} frames with no face, {stats['dropped']} faces dropped by the identity "
                       f"filter{where} (alignments: {alignments_path})")
        return {"input": str(path), "output": str(out_dir) if writer else None, "alignments": str(alignments_path),
                **stats, "skipped": [name for name, _ in skipped]}

    def _keep_dominant(self, alignments, out_dir: Path | None) -> int:
        """Automatic identity mode: drop faces far from the input's dominant identity; returns how many."""
        from lib.facewriter import renumber_faces
        from lib.identity import dominant_filter
        dropped = 0
        for name, keep in dominant_filter(alignments.frames, self.params.ref_threshold).items():
            dropped += keep.count(False)
            if out_dir is not None:
                renumber_faces(out_dir, name, keep)
            alignments.frames[name] = [face for face, k in zip(alignments.frames[name], keep) if k]
        if dropped:
            log.info("automatic identity: dropped %d face(s) not of the dominant person", dropped)
        return dropped


def _merge(alignments, previous, source):
    """The frames of a resumed run's earlier file plus this run's, in frame order."""
    if previous is not None:
        merged = {**previous.frames, **alignments.frames}
        order = {name: i for i, name in enumerate(source.names())}
        alignments.frames = dict(sorted(merged.items(), key=lambda item: order.get(item[0], len(order))))
    return alignments


def _readable_images(source, wanted: set, skipped: list):
    """Frames of an image folder; an unreadable file is skipped (and named at the end), not fatal, and so is a
    face PNG written by extract (a faces folder given as input, or faces left among the photos)."""
    from lib.faces import read_face_meta
    from lib.video import Frame, read_image
    for index, file in enumerate(source.files):
        if index not in wanted:
            continue
        try:
            if file.suffix.lower() == ".png" and read_face_meta(file) is not None:
                skipped.append((file.name, f"{file} is a face written by 'faceswap.py extract', not a photo: give "
                                           f"the folder of the original images"))
                continue
        except FaceswapError:
            skipped.append((file.name, f"{file} is a damaged face PNG written by 'faceswap.py extract', not a "
                                       f"photo"))
            continue
        try:
            image = read_image(file)
        except FaceswapError as err:
            skipped.append((file.name, str(err)))
            continue
        yield Frame(index, file.name, image)
