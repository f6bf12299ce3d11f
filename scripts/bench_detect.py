"""Benchmark face detection: recall and speed of each detector, upright, tilted and turned, on the shared clips.

Usage:  python scripts/bench_detect.py [--every 20] [--detectors dlib-hog yunet mtcnn dlib-cnn haar]
                                       [--angles 0 15 30 45 60 90] [--yaws 0 30 45 60 70] [--json out.json]

Every figure printed is measured here, on frames of the videos in ../shared/data/faces (every ``--every``-th
frame of each; each shows one person). A *config* is a detector with or without the retry on rotated copies
(lib.rotation), ``+rot``. Tables:

1. upright recall: frames where exactly one face is found (what MANIFEST.md counts), and ms per frame.
2. 720p with tracking (lib.extractor's stream: detector every 8 frames, align, identity every 50) over the
   whole 720p clip, upright and rotated by 45 degrees: fps by wall clock and by this process's CPU time
   (the machine may be shared: CPU time is the steadier figure; ffmpeg's decoding runs in its own process).
3. tilted: the sampled frames rotated about their centre by each ``--angles``; "one" as above, "good" also
   has its 68 landmarks within 10% of the eye distance (mean) of the upright frame's, rotated the same way.
4. turned: the frames warped as if the head (a plane through the face) turned by each ``--yaws`` about the
   vertical; "one" as above, "good" also has the face centre within 25% of the face's size of the truth.
5. a turning head with tracking: one clip whose frames tilt 0 -> 90 -> 0 degrees, or turn 0 -> 60 -> -60 -> 0,
   streamed with tracking; frames with exactly one face.

The truth for 3-5 is the upright frame through dlib-hog without rotation (today's pipeline); frames where it
does not find exactly one face are left out of "good". Before: dlib-hog without rotation (the default until
issue 12); after: yunet +rot (the default since).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "faces"
CLIP_720P = "barack_obama/video_obama_address_20s.mp4"
BEFORE, AFTER = ("dlib-hog", False), ("yunet", True)


# ---------------------------------------------------------------------------------------------- footage
def tilt(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` rotated by ``angle`` degrees about its centre, same size (a camera rolled); and the matrix."""
    height, width = image.shape[:2]
    mat = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, mat, (width, height), flags=cv2.INTER_LINEAR), np.vstack([mat, [0, 0, 1]])


def turn(image: np.ndarray, centre, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` as a camera (focal length = the long side) would see it if the picture plane turned by ``yaw``
    degrees about the vertical line through ``centre``: a flat stand-in for a head turning towards profile
    (foreshortened, though nothing of the far cheek is hidden). Returns it and the 3x3 homography."""
    height, width = image.shape[:2]
    focal, px, py = float(max(height, width)), width / 2, height / 2
    rad = np.radians(yaw)
    rot = np.array([[np.cos(rad), 0, np.sin(rad)], [0, 1, 0], [-np.sin(rad), 0, np.cos(rad)]])
    to_3d = np.array([[1, 0, -px], [0, 1, -py], [0, 0, focal]])
    pivot = np.array([[centre[0] - px], [centre[1] - py], [focal]])
    camera = np.array([[focal, 0, px], [0, focal, py], [0, 0, 1]])
    hom = camera @ (rot + (np.eye(3) - rot) @ pivot @ np.array([[0, 0, 1.0]]) / focal) @ to_3d
    hom /= hom[2, 2]
    return cv2.warpPerspective(image, hom, (width, height), flags=cv2.INTER_LINEAR), hom


def project(points: np.ndarray, hom: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(points, np.float64)[None], hom)[0]


def clips() -> list[Path]:
    return sorted(SHARED.glob("*/video_*.mp4"))


def sample_frames(every: int, paths=None) -> list[np.ndarray]:
    from lib.video import read_frames
    return [image for path in (paths or clips()) for index, image in read_frames(path) if index % every == 0]


# ---------------------------------------------------------------------------------------------- measuring
def extractor(detector: str, rotate: bool, identity: bool = False):
    from lib import rotation
    from lib.extractor import Extractor
    return Extractor(detector, masks=(), identity=identity, rotate=rotation.ANGLES if rotate else ())


def name_of(config) -> str:
    return config[0] + (" +rot" if config[1] else "")


def cpu_s(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def detect_all(ext, frames) -> tuple[list, float, float]:
    """Faces of each frame (no tracking), and the wall and CPU seconds it took."""
    wall, cpu = time.perf_counter(), cpu_s()
    found = [ext.faces(image) for image in frames]
    return found, time.perf_counter() - wall, cpu_s() - cpu


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))


def score(found, truths, warp) -> dict:
    """one: exactly one face; good: that face's landmarks match the truth mapped by ``warp(points, i)``."""
    one = good = 0
    for i, (faces, truth) in enumerate(zip(found, truths)):
        one += len(faces) == 1
        if len(faces) == 1 and truth is not None:
            good += warp(faces[0].landmarks, truth, i)
    return {"frames": len(found), "one": one, "good": good, "truths": sum(t is not None for t in truths)}


def tilt_ok(landmarks, truth, mat) -> bool:
    expected = project(truth, mat)
    return float(np.linalg.norm(landmarks - expected, axis=1).mean()) < 0.1 * eye_distance(expected)


def turn_ok(landmarks, truth, hom) -> bool:
    expected = project(truth, hom)
    size = float(np.ptp(expected, axis=0).max())
    return float(np.linalg.norm(landmarks.mean(0) - expected.mean(0))) < 0.25 * size


def stream(config, frames_of, identity: bool = True) -> dict:
    """Track through ``frames_of()`` (lib.video.Frame objects) as extract does; fps by wall and CPU time.
    Time spent making the frames (decoding is in ffmpeg's process; warps for tilted clips here) is excluded."""
    ext = extractor(*config, identity=identity)
    made = {"s": 0.0, "cpu": 0.0}

    def timed():
        source = iter(frames_of())
        while True:
            wall, cpu = time.perf_counter(), cpu_s()
            frame = next(source, None)
            made["s"] += time.perf_counter() - wall
            made["cpu"] += cpu_s() - cpu
            if frame is None:
                return
            yield frame

    one = frames = 0
    wall, cpu, child = time.perf_counter(), cpu_s(), cpu_s(children=True)
    for _, faces in ext.stream(timed(), track=True, detect_every=8):
        frames += 1
        one += len(faces) == 1
    wall = time.perf_counter() - wall - made["s"]
    cpu = cpu_s() - cpu - made["cpu"]
    return {"frames": frames, "one": one, "fps_wall": frames / wall, "fps_cpu": frames / cpu,
            "ffmpeg_cpu_s": cpu_s(children=True) - child}


def video_frames(path, change=None):
    from lib.video import Frame, read_frames
    for index, image in read_frames(path):
        yield Frame(index, f"f_{index:06d}.png", change(image, index) if change else image)


# ---------------------------------------------------------------------------------------------- printing
def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / max(whole, 1):.0f}%)"


# ---------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=20, help="use every N-th frame of each clip (default 20)")
    parser.add_argument("--detectors", nargs="+", default=["dlib-hog", "yunet", "mtcnn", "dlib-cnn", "haar"])
    parser.add_argument("--angles", nargs="+", type=float, default=[0, 15, 30, 45, 60, 90])
    parser.add_argument("--yaws", nargs="+", type=float, default=[0, 30, 45, 60, 70])
    parser.add_argument("--tables", nargs="+", type=int, default=[1, 2, 3, 4, 5], help="which tables (1-5)")
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"ERROR the shared clips are not at {SHARED}", file=sys.stderr)
        return 1
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results: dict = {"every": args.every, "cpus": os.cpu_count(), "load": os.getloadavg()}
    frames = sample_frames(args.every)
    print(f"{len(frames)} frames (every {args.every}th of {len(clips())} clips); load average "
          f"{results['load'][0]:.1f} on {os.cpu_count()} CPUs")
    configs = [BEFORE, ("dlib-hog", True), ("yunet", False), AFTER]
    truth_ext = extractor(*BEFORE)
    truths = [(lambda faces: faces[0].landmarks if len(faces) == 1 else None)(truth_ext.faces(f)) for f in frames]
    big = [i for i, f in enumerate(frames) if f.shape[1] == 1280]

    if 1 in args.tables:
        rows = []
        for config in [(name, False) for name in args.detectors] + [AFTER]:
            ext = extractor(*config)
            found, wall, cpu = detect_all(ext, frames)
            _, wall720, cpu720 = detect_all(ext, [frames[i] for i in big])
            res = score(found, truths, lambda lm, t, i: tilt_ok(lm, t, np.eye(3)))
            res.update(ms_wall=1000 * wall / len(frames), ms_cpu=1000 * cpu / len(frames),
                       ms720_wall=1000 * wall720 / max(len(big), 1), ms720_cpu=1000 * cpu720 / max(len(big), 1))
            results.setdefault("upright", {})[name_of(config)] = res
            rows.append([name_of(config), pct(res["one"], res["frames"]), pct(res["good"], res["truths"]),
                         f"{res['ms_wall']:.1f}", f"{res['ms_cpu']:.1f}", f"{res['ms720_wall']:.1f}",
                         f"{res['ms720_cpu']:.1f}"])
        table("1. upright: exactly one face (recall), landmarks as dlib-hog's, ms per frame (no tracking)",
              ["config", "one face", "good", "ms wall", "ms CPU", "720p ms wall", "720p ms CPU"], rows)

    if 2 in args.tables:
        rows = []
        video = SHARED / CLIP_720P
        for angle in (0, 45):
            for config in configs:
                res = stream(config, lambda: video_frames(video, (lambda im, i: tilt(im, angle)[0]) if angle else None))
                results.setdefault("stream_720p", {}).setdefault(str(angle), {})[name_of(config)] = res
                rows.append([f"{angle:g}", name_of(config), pct(res["one"], res["frames"]), f"{res['fps_wall']:.1f}",
                             f"{res['fps_cpu']:.1f}", f"{res['ffmpeg_cpu_s']:.1f}"])
        table(f"2. 720p with tracking ({CLIP_720P}, detector every 8 frames, identity on)",
              ["tilt", "config", "one face", "fps wall", "fps CPU", "ffmpeg CPU s"], rows)

    if 3 in args.tables:
        rows = []
        for angle in args.angles:
            tilted = [tilt(f, angle) for f in frames]
            for config in configs:
                found, wall, cpu = detect_all(extractor(*config), [t[0] for t in tilted])
                res = score(found, truths, lambda lm, t, i: tilt_ok(lm, t, tilted[i][1]))
                res.update(ms_wall=1000 * wall / len(frames), ms_cpu=1000 * cpu / len(frames))
                results.setdefault("tilted", {}).setdefault(f"{angle:g}", {})[name_of(config)] = res
                rows.append([f"{angle:g}", name_of(config), pct(res["one"], res["frames"]),
                             pct(res["good"], res["truths"]), f"{res['ms_wall']:.1f}", f"{res['ms_cpu']:.1f}"])
        table("3. tilted: frames rotated about their centre (no tracking)",
              ["tilt", "config", "one face", "good", "ms wall", "ms CPU"], rows)

    if 4 in args.tables:
        rows = []
        for yaw in args.yaws:
            turned = [turn(f, t.mean(0), yaw) if t is not None else (f, np.eye(3)) for f, t in zip(frames, truths)]
            for config in configs:
                found, wall, cpu = detect_all(extractor(*config), [t[0] for t in turned])
                res = score(found, truths, lambda lm, t, i: turn_ok(lm, t, turned[i][1]))
                res.update(ms_wall=1000 * wall / len(frames), ms_cpu=1000 * cpu / len(frames))
                results.setdefault("turned", {}).setdefault(f"{yaw:g}", {})[name_of(config)] = res
                rows.append([f"{yaw:g}", name_of(config), pct(res["one"], res["frames"]),
                             pct(res["good"], res["truths"]), f"{res['ms_wall']:.1f}", f"{res['ms_cpu']:.1f}"])
        table("4. turned: frames warped as if the face plane turned about the vertical (no tracking)",
              ["yaw", "config", "one face", "good", "ms wall", "ms CPU"], rows)

    if 5 in args.tables:
        rows = []
        for clip in (SHARED / CLIP_720P, SHARED / "katie_hill" / "video_katiehill_hdtf_WDA_000.mp4"):
            from lib.video import probe
            count = probe(clip).frame_count
            centre = _face_centre(clip, truth_ext)
            sweeps = {"tilt 0>90>0": lambda im, i: tilt(im, 90 * np.sin(np.pi * i / count))[0],
                      "turn 0>60>-60>0": lambda im, i: turn(im, centre, 60 * np.sin(2 * np.pi * i / count))[0]}
            for sweep, change in sweeps.items():
                for config in configs:
                    res = stream(config, lambda: video_frames(clip, change), identity=False)
                    results.setdefault("sweeps", {}).setdefault(f"{clip.name} {sweep}", {})[name_of(config)] = res
                    rows.append([clip.name, sweep, name_of(config), pct(res["one"], res["frames"]),
                                 f"{res['fps_wall']:.1f}", f"{res['fps_cpu']:.1f}"])
        table("5. a head tilting or turning through the whole clip, with tracking (detector every 8 frames)",
              ["clip", "sweep", "config", "one face", "fps wall", "fps CPU"], rows)

    results["load_after"] = os.getloadavg()
    print(f"\nload average at the end {results['load_after'][0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _face_centre(clip: Path, ext) -> np.ndarray:
    """Centre of the face in the clip's first frame (the turn pivots there; the speaker barely moves)."""
    from lib.video import read_frame
    faces = ext.faces(read_frame(clip, 0))
    return faces[0].landmarks.mean(0) if faces else None


if __name__ == "__main__":
    sys.exit(main())
