"""Look after a trained model: show what it is, go back to a backup or snapshot, scan it for NaN/inf.

  info      plugin, settings, sizes, centering, iterations, parameters, loss history, backup and snapshots
  restore   put the previous save (model.npz.bak) back, or a snapshot with --snapshot N / a file with --from
  nan-scan  look through weights and optimizer state for NaN or inf (a run that blew up)
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger(__name__)
JOBS = ("info", "restore", "nan-scan")


def add_arguments(parser) -> None:
    parser.add_argument("-j", "--job", required=True, choices=JOBS, help="what to do (see above)")
    parser.add_argument("-m", "--model-dir", required=True, type=Path, metavar="DIR", help="the model folder")
    parser.add_argument("--snapshot", type=int, metavar="N", help="restore: the snapshot taken at iteration N")
    parser.add_argument("--from", dest="source", type=Path, metavar="FILE", help="restore: this model file")
    parser.add_argument("--json", action="store_true", help="info: print JSON instead of text")


def run(args) -> int:
    from lib.model import store
    if args.job == "info":
        return _info(args, store)
    if args.job == "restore":
        return _restore(args, store)
    return _nan_scan(args, store)


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _info(args, store) -> int:
    meta = store.read_meta(args.model_dir)
    folder = Path(args.model_dir)
    backup = folder / (store.MODEL_FILE + store.BACKUP_SUFFIX)
    snaps = store.list_snapshots(folder)
    if args.json:
        out = {key: value for key, value in meta.items() if key not in ("weights", "optimizer_state")}
        out["backup"] = backup.is_file()
        out["snapshots"] = [store.snapshot_iteration(p) for p in snaps]
        print(json.dumps(out, indent=1))
        return 0
    history = meta.get("history") or []
    lines = [f"model        {folder} ({_size(store.model_file(folder))}, saved {meta.get('saved_at', '?')})",
             f"plugin       {meta['plugin']}  settings {json.dumps(meta['settings'])}",
             f"faces        {meta['input_size']} px in, {meta['output_size']} px out, centering "
             f"{meta.get('centering', 'face')}, coverage {meta.get('coverage', '?')}, "
             f"learns mask: {'yes' if meta.get('learns_mask') else 'no'}",
             f"parameters   {meta.get('parameters', 0) / 1e6:.1f} M in {len(meta['weights'])} arrays, optimizer "
             f"state {'saved' if meta.get('optimizer_state') else 'none'}",
             f"training     {meta['iterations']} iterations, loss {meta.get('loss', '?')}, precision "
             f"{meta.get('precision', '?')}, last {meta.get('last_egs', '?')} EG/s"]
    if history:
        last = history[-1]
        lines.append(f"loss         A {last[1]:.5f}  B {last[2]:.5f} at iteration {last[0]} "
                     f"(first save: A {history[0][1]:.5f}  B {history[0][2]:.5f})")
    if backup.is_file():
        try:
            lines.append(f"backup       {backup.name} at iteration {store.read_file(backup)[0]['iterations']}")
        except FaceswapError:
            lines.append(f"backup       {backup.name} is corrupt")
    lines.append("snapshots    " + (", ".join(str(store.snapshot_iteration(p)) for p in snaps) if snaps else "none"))
    print("\n".join(lines))
    return 0


def _restore(args, store) -> int:
    if args.snapshot is not None and args.source:
        raise FaceswapError("restore: give --snapshot N or --from FILE, not both")
    source = args.source
    if args.snapshot is not None:
        source = Path(args.model_dir) / store.SNAPSHOTS / f"model_{args.snapshot}.npz"
        if not source.is_file():
            have = [str(store.snapshot_iteration(p)) for p in store.list_snapshots(args.model_dir)]
            raise FaceswapError(f"no snapshot at iteration {args.snapshot} in {args.model_dir}: "
                                f"have {', '.join(have) if have else 'none'}")
    if not Path(args.model_dir).is_dir():
        raise FaceswapError(f"model folder not found: {args.model_dir}")
    replaced = store.restore(args.model_dir, source)
    meta = store.read_meta(args.model_dir)
    log.info("restored %s to iteration %d from %s (%s)", args.model_dir, meta["iterations"],
             source or store.MODEL_FILE + store.BACKUP_SUFFIX, replaced)
    return 0


def _nan_scan(args, store) -> int:
    import numpy as np
    path = store.model_file(args.model_dir)
    store.read_meta(args.model_dir)  # clear errors for a missing or corrupt model
    _meta, weights, optimizer = store.read_file(path, finite=False)
    bad = [(f"weight {i}", int((~np.isfinite(w)).sum()), w.size) for i, w in enumerate(weights)
           if not np.isfinite(w).all()]
    bad += [(f"optimizer state {i}", int((~np.isfinite(o)).sum()), o.size) for i, o in enumerate(optimizer)
            if not np.isfinite(o).all()]
    for name, count, size in bad:
        print(f"{name}: {count} of {size} values are NaN/inf")
    if bad:
        raise FaceswapError(f"{path}: {len(bad)} array(s) hold NaN/inf: go back to a good save with "
                            f"'tools.py model -j restore -m {args.model_dir}' (or --snapshot N)")
    print(f"{path}: {len(weights)} weight arrays and {len(optimizer)} optimizer arrays, all finite")
    return 0
