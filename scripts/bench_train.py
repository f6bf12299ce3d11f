"""Benchmark training speed: EG/s (= 2 x batch x steps / s), GFLOP/s and peak RSS per model and batch size.

    python scripts/bench_train.py -t original lightweight -b 16 64 --steps 10
    python scripts/bench_train.py -t original -b 64 --data faces_a     # also time the data pipeline

Each (model, batch) runs in its own process (``tools.py bench``'s child runner) so its peak RSS is its own. EG/s* divides by CPU time
instead of wall time: on a machine shared with other jobs it estimates the speed of a quiet one. FLOPs are counted analytically from
the network's convolution and dense layers (multiply-add = 2 FLOPs; a training step = forward + backward
~ 3 x forward, for both sides). Warm-up steps (graph compilation) are not timed. The lead's ``tools.py
bench`` calls :func:`measure`.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def forward_flops(model) -> int:
    """FLOPs of one forward pass of one example through ``model`` (conv and dense layers; nested models too)."""
    import keras
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += 2 * cin * cout
    return int(total)


def step_flops(network, batch_size: int) -> int:
    """FLOPs of one training step: both sides, forward + backward (~3x forward)."""
    return 3 * batch_size * sum(forward_flops(network.autoencoders[side]) for side in "ab")


def measure(model: str, batch_size: int, steps: int = 10, policy: str | None = None, settings: dict | None = None,
            warmup: int = 2, loss: str = "ssim") -> dict:
    """Train ``model`` on synthetic batches; returns EG/s, GFLOP/s, peak RSS (MB) and the precision used."""
    from lib.model import network as net, trainer
    policy = policy or net.default_precision()
    network = net.build_network(model, settings or {}, policy)
    session = trainer.Session(network, trainer.Options(batch_size=batch_size, loss=loss), policy)
    rng = np.random.default_rng(0)
    isz, osz = network.input_size, network.output_size

    def side():
        return (rng.integers(0, 256, (batch_size, isz, isz, 3), np.uint8),
                rng.integers(0, 256, (batch_size, osz, osz, 3), np.uint8),
                np.full((batch_size, osz, osz, 3), 255, np.uint8))
    batch_a, batch_b = side(), side()
    for _ in range(warmup):
        session.step(batch_a, batch_b)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        session.step(batch_a, batch_b)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    flops = step_flops(network, batch_size)
    cores = len(os.sched_getaffinity(0))
    return {"model": model, "batch_size": batch_size, "steps": steps, "precision": policy,
            "params_m": round(network.count_params() / 1e6, 1), "seconds": round(seconds, 2),
            "egs": round(2 * batch_size * steps / seconds, 2), "step_gflop": round(flops / 1e9, 1),
            "gflops": round(flops * steps / seconds / 1e9, 1),
            # on a shared machine: the speed if this process had every core to itself (CPU seconds / cores)
            "egs_cpu_bound": round(2 * batch_size * steps / (cpu / cores), 2), "cores": cores,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def measure_data(folder, model: str, batch_size: int, batches: int = 20, workers: int = 2) -> dict:
    """Batches per second the background feeder makes for ``model`` from a faces folder (alone, no model)."""
    from lib.model import data, network as net
    network = net.build_network(model, {}, "float32")
    faces = data.load_faces(folder, "A", network.input_size, network.output_size, min_faces=1)
    feeder = data.Feeder(faces, data.Augment(network.input_size, network.output_size), batch_size, workers=workers)
    feeder.next()
    start = time.perf_counter()
    for _ in range(batches):
        feeder.next()
    seconds = time.perf_counter() - start
    feeder.close()
    return {"model": model, "batch_size": batch_size, "data_batches_per_s": round(batches / seconds, 2),
            "data_eg_per_s": round(batches * batch_size / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--models", nargs="+", default=["original"])
    parser.add_argument("-b", "--batch-sizes", nargs="+", type=int, default=[64])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-mixed", action="store_true", help="float32 instead of the default precision")
    parser.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE", help="model setting")
    parser.add_argument("--data", type=Path, help="faces folder: also measure the data pipeline's batches/s")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    settings = dict(item.split("=", 1) for item in args.option)
    from lib.errors import FaceswapError
    from scripts.tools.bench import run_child
    results = []
    print(f"{'model':12} {'batch':>5} {'precision':>15} {'params':>7} {'EG/s':>7} {'GFLOP/s':>8} {'RSS MB':>7} "
          f"{'EG/s*':>7}"
          + ("  data EG/s" if args.data else ""))
    for model in args.models:
        for batch in args.batch_sizes:
            params = {"model": model, "batch_size": batch, "steps": args.steps, "settings": settings,
                      "policy": "float32" if args.no_mixed else None, "data": str(args.data) if args.data else None}
            try:
                r = run_child("train", params)
            except FaceswapError as err:
                print(f"{model:12} {batch:>5} failed: {err}")
                continue
            results.append(r)
            print(f"{model:12} {batch:>5} {r['precision']:>15} {r['params_m']:>6}M {r['egs']:>7} {r['gflops']:>8} "
                  f"{r['peak_rss_mb']:>7} {r['egs_cpu_bound']:>7}" + (f"  {r['data_eg_per_s']:>9}" if args.data else ""),
                  flush=True)
    print("EG/s* = the CPU-time speed: 2 x batch x steps / (CPU seconds / cores), what a machine nobody else "
          "uses would give (an estimate; EG/s is the wall-clock figure)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
