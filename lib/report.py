"""The evaluation report: ``report.json`` (every figure), a self-contained ``report.html`` (plots embedded as
base64 PNG data URIs, so the one file can be mailed or opened offline) and a one-screen terminal summary.

The report is a plain dict built by the evaluate job (``lib/jobs/evaluate.py``)::

    {"format": "faceswap-evaluate", "version": 1, "inputs": {...}, "summary": {...},
     "frames": [{"index", "name", "face": {"original", "swapped"}, "identity": {name: distance},
                 "nearest", "original_identity", "pose": {...}, "expression": {...}, "background": {...}}]}
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from lib.fileio import atomic_write_bytes

FORMAT = "faceswap-evaluate"
VERSION = 1


# ---------------------------------------------------------------------------------------------- JSON
def json_safe(value):
    """JSON-safe copy: NumPy scalars/arrays to Python, paths to text, NaN/inf to None (JSON has no NaN)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_json(report: dict) -> bytes:
    return json.dumps(json_safe(report), indent=1).encode()


# ---------------------------------------------------------------------------------------------- plots
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _series(frames: list[dict], *keys) -> np.ndarray:
    out = []
    for frame in frames:
        value = frame
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(np.nan if value is None else float(value))
    return np.array(out, np.float64)


def plot_identity(report: dict) -> bytes:
    """Per-frame distance of the swapped face to each reference identity (lower = more alike)."""
    plt = _pyplot()
    frames = report["frames"]
    index = np.array([f["index"] for f in frames])
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for name in report["inputs"]["identities"]:
        ax.plot(index, _series(frames, "identity", name), marker=".", markersize=3, linewidth=1, label=name)
    missing = [f["index"] for f in frames if not f["face"]["swapped"]]
    if missing:
        ax.plot(missing, np.full(len(missing), 0.02), "x", color="red", label="no face in output")
    ax.axhline(0.6, color="grey", linestyle=":", linewidth=1, label="same-person threshold (0.6)")
    ax.set_xlabel("frame")
    ax.set_ylabel("embedding distance")
    ax.set_ylim(bottom=0)
    ax.set_title("Identity: distance of the swapped face to each reference")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0)
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_pose(report: dict) -> bytes:
    """Per-frame head pose error (degrees) and expression error (share of inter-ocular distance)."""
    plt = _pyplot()
    frames = report["frames"]
    index = np.array([f["index"] for f in frames])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
    for key in ("yaw", "pitch", "roll", "angle"):
        top.plot(index, _series(frames, "pose", key), linewidth=1.4 if key == "angle" else 0.8, label=key)
    top.set_ylim(0, max(1.0, np.nanmax(_series(frames, "pose", "angle"), initial=0.0) * 1.1))
    top.set_ylabel("pose error (deg)")
    top.set_title("Head pose and expression error, original vs swapped")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0)
    top.grid(alpha=0.3)
    for key in ("mouth", "eyes"):
        bottom.plot(index, _series(frames, "expression", key), linewidth=1, label=key)
    worst = max(np.nanmax(_series(frames, "expression", k), initial=0.0) for k in ("mouth", "eyes"))
    bottom.set_ylim(0, max(0.05, worst * 1.1))
    bottom.set_ylabel("expression error (IOD)")
    bottom.set_xlabel("frame")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0)
    bottom.grid(alpha=0.3)
    return _png(fig)


def plot_strip(best: list[tuple[str, np.ndarray]], worst: list[tuple[str, np.ndarray]]) -> bytes | None:
    """Two rows of thumbnails (best and worst frames), each a ``(caption, BGR image)`` pair."""
    if not best and not worst:
        return None
    plt = _pyplot()
    cols = max(len(best), len(worst), 1)
    fig, axes = plt.subplots(2, cols, figsize=(2.3 * cols, 2.9), squeeze=False)
    for row, (title, items) in enumerate((("best", best), ("worst", worst))):
        for col in range(cols):
            ax = axes[row][col]
            ax.axis("off")
            if col < len(items):
                caption, image = items[col]
                ax.imshow(image[..., ::-1] if image.ndim == 3 else image, cmap="gray")
                ax.set_title(caption, fontsize=7)
        axes[row][0].text(-0.08, 0.5, title, transform=axes[row][0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=10, fontweight="bold")
    fig.suptitle("Best and worst frames by identity distance to B (left: original, right: swapped)", fontsize=9)
    return _png(fig)


# ---------------------------------------------------------------------------------------------- text
def _fmt(value, spec=".3f", unit="") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:{spec}}{unit}"


def _short(frame_name: str) -> str:
    from lib.video import frame_index
    index = frame_index(frame_name)
    return frame_name if index is None else f"frame {index}"


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """The headline figures as (label, value) pairs; shared by the terminal and the HTML page."""
    s = report["summary"]
    ident, pose, expr = s["identity"], s["pose"], s["expression"]
    stab, back, counts = s["stability"], s["background"], s["frames"]
    target = report["inputs"]["target"]
    no_face = [_short(name) for name in counts["no_face_frames"]]
    rows = [
        ("frames evaluated", f"{counts['evaluated']} of {counts['total']} (every {report['inputs']['every_n']})"),
        ("no face in output", f"{counts['no_face_in_output']} frame(s)" + (f", e.g. {', '.join(no_face[:3])}"
                                                                           if no_face else "")),
        (f"identity retrieval {target}", f"{_fmt(ident['retrieval'], '.1%')} of the {ident['frames']} frames with a "
                                         f"swapped face are nearest to {target} among "
                                         f"{len(report['inputs']['identities'])} identities"),
    ]
    for name, dist in ident["distance"].items():
        rows.append((f"  distance to {name}", f"{_fmt(dist)}  (original video: "
                                              f"{_fmt(ident['original_distance'].get(name))})"))
    rows += [
        ("original nearest", f"{ident['original_nearest'] or 'n/a'} (A in "
                             f"{_fmt(ident['original_retrieval_a'], '.1%')} of the original's frames)"),
        ("pose error (deg)", f"angle {_fmt(pose['angle'], '.2f')}  yaw {_fmt(pose['yaw'], '.2f')}  "
                             f"pitch {_fmt(pose['pitch'], '.2f')}  roll {_fmt(pose['roll'], '.2f')}"),
        ("expression error (IOD)", f"mouth {_fmt(expr['mouth'])}  eyes {_fmt(expr['eyes'])}  all {_fmt(expr['all'])}"),
        ("landmark jitter (IOD)", f"swapped {_fmt(stab['landmark_jitter']['swapped'], '.4f')}  original "
                                  f"{_fmt(stab['landmark_jitter']['original'], '.4f')}  ratio "
                                  f"{_fmt(stab['landmark_jitter']['ratio'], '.2f')}"),
        ("face colour flicker", f"swapped {_fmt(stab['colour_flicker']['swapped'], '.2f')}  original "
                                f"{_fmt(stab['colour_flicker']['original'], '.2f')}  ratio "
                                f"{_fmt(stab['colour_flicker']['ratio'], '.2f')}  (8-bit levels)"),
        ("background (no face)", f"SSIM {_fmt(back['ssim'], '.4f')}  PSNR {_fmt(back['psnr'], '.2f', ' dB')}"),
    ]
    if "offset" in pose:              # reports written before the pose error was split have no offset
        at = [label for label, _ in rows].index("pose error (deg)") + 1
        rows[at:at] = [("  offset, tracking", f"{_fmt(pose['offset'], '.2f')} the same in every frame (face shapes, "
                                              f"a steady tilt), {_fmt(pose['tracking'], '.2f')} the rest"),
                       ("  follow (1 = all)", f"yaw {_fmt(pose['follow_yaw'], '.2f')}  pitch "
                                              f"{_fmt(pose['follow_pitch'], '.2f')}  (how far the swap turns with "
                                              f"the head)")]
    sharp = s.get("sharpness")        # reports written before it was measured have none
    if sharp:
        rows.insert(-1, ("face sharpness", f"ratio {_fmt(sharp['ratio'], '.2f')}  (Laplacian variance: swapped "
                                           f"{_fmt(sharp['swapped'], '.1f')}, original "
                                           f"{_fmt(sharp['original'], '.1f')})"))
    return rows


def summary_text(report: dict) -> str:
    """One screen for the terminal."""
    inputs = report["inputs"]
    head = f"Swap evaluation: {Path(inputs['swapped']).name} (swapped) vs {Path(inputs['original']).name} (original)"
    rows = summary_rows(report)
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join([head, "-" * min(len(head), 100)] + [f"{label:<{width}}{value}" for label, value in rows])


# ---------------------------------------------------------------------------------------------- HTML
def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def render_html(report: dict, images: dict[str, bytes]) -> str:
    """The whole page as one string; ``images`` maps a caption to PNG bytes."""
    inputs = report["inputs"]
    input_rows = [("original", str(inputs["original"])), ("swapped", str(inputs["swapped"]))]
    for name, folders in inputs["references"].items():
        input_rows.append((f"references {name}", ", ".join(map(str, folders))))
    input_rows.append(("frames sampled", f"every {inputs['every_n']}"))
    figures = "".join(f"<figure>{_img(png, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"
                      for caption, png in images.items() if png)
    no_face = report["summary"]["frames"]["no_face_frames"]
    missing = (f"<p>Frames with no face found in the output: {html.escape(', '.join(no_face))}</p>"
               if no_face else "<p>A face was found in the output in every evaluated frame.</p>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>faceswap evaluation: {html.escape(Path(inputs['swapped']).name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ text-align: left; padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; font-size: 0.9em; }}
th {{ white-space: nowrap; }}
figure {{ margin: 1.5em 0; }}
img {{ max-width: 100%; }}
figcaption {{ font-size: 0.85em; color: #555; }}
</style>
</head>
<body>
<h1>Swap evaluation</h1>
<h2>Inputs</h2>
{_table(input_rows)}
<h2>Summary</h2>
{_table(summary_rows(report))}
{missing}
<h2>Plots</h2>
{figures}
<p>Identity: dlib ResNet embedding distance to the mean of each identity's reference faces (under about 0.6
usually means the same person). Pose: yaw/pitch/roll from the 68 landmarks by solvePnP on a 3-D mean face;
its offset is the part of the error that is the same in every frame (two people's faces fit the mean face
differently, and a model may draw every face a little tilted), tracking the part that is not, and follow the
slope of the swap's yaw (pitch) against the original's where the head turns (nods) at least 3 degrees.
Expression: landmark error after a similarity fit on the nose and eye corners, in inter-ocular distances.
Jitter and flicker: mean size of the frame-to-frame second difference of the landmarks and of the face's mean
colour. Background: SSIM and PSNR outside the face region. Every figure is in report.json.</p>
</body>
</html>
"""


def write(report: dict, folder, strip: tuple[list, list] = ((), ())) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` (atomically) into ``folder``; returns both paths."""
    folder = Path(folder)
    images = {"Identity distance per frame": plot_identity(report),
              "Pose and expression error per frame": plot_pose(report),
              "Best and worst frames": plot_strip(list(strip[0]), list(strip[1]))}
    json_path, html_path = folder / "report.json", folder / "report.html"
    atomic_write_bytes(json_path, to_json(report))
    atomic_write_bytes(html_path, render_html(report, images).encode())
    return json_path, html_path
