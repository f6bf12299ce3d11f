"""The training loop, readable top to bottom: sample both sides -> one compiled step -> log -> maybe save.

:class:`Session` owns what a step needs (network, optimizer, loss, precision, device strategy) and compiles
one ``tf.function`` that trains side A and side B together. :func:`train` is the loop around it; it stops on
the iteration count, Ctrl-C, ``q`` + Enter or SIGTERM (saving first), and on a NaN/inf loss (keeping the last
good save untouched).
"""
from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.model import store

log = logging.getLogger(__name__)


@dataclass
class Options:
    """Knobs of one training run (the model's own architecture settings live in the network)."""
    batch_size: int = 16
    iterations: int = 100000
    save_interval: int = 250
    snapshot_interval: int = 0
    loss: str = "ssim"
    learning_rate: float = 5e-5
    mask_type: str = "extended"
    penalized_mask: bool = True
    eye_multiplier: float = 3.0
    mouth_multiplier: float = 2.0
    tensorboard: bool = False


class Session:
    """Network + optimizer + loss compiled into one training step over both sides."""

    def __init__(self, network, opts: Options, policy: str, strategy=None, optimizer_state=None):
        import keras
        import tensorflow as tf
        from lib.model import losses
        self.network, self.opts, self.policy = network, opts, policy
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        loss = losses.weighted_sum(opts.loss)
        with self.strategy.scope():
            size = network.input_size
            zeros = np.zeros((1, size, size, 3), np.float32)
            network.joint([zeros, zeros])  # variables exist (in this scope) before the optimizer is built
            self.variables = network.joint.trainable_variables
            inner = keras.optimizers.Adam(opts.learning_rate, beta_1=0.5, beta_2=0.999)
            self.optimizer = keras.optimizers.LossScaleOptimizer(inner) if policy == "mixed_float16" else inner
            self.optimizer.build(self.variables)
        self._restore_optimizer(optimizer_state)

        def side(outputs, target, masks):
            return losses.side_loss(loss, outputs, target, masks, opts.penalized_mask,
                                    opts.eye_multiplier, opts.mouth_multiplier)

        def replica_step(warped_a, target_a, masks_a, warped_b, target_b, masks_b):
            prep = [tf.cast(t, tf.float32) / 255.0 for t in (warped_a, target_a, masks_a, warped_b, target_b, masks_b)]
            with tf.GradientTape() as tape:
                out_a, out_b = network.joint([prep[0], prep[3]], training=True)
                loss_a = side(out_a, prep[1], prep[2])
                loss_b = side(out_b, prep[4], prep[5])
                total = (loss_a + loss_b) / self.replicas
                scaled = self.optimizer.scale_loss(total)
            grads = tape.gradient(scaled, self.variables)
            self.optimizer.apply_gradients(zip(grads, self.variables))
            return loss_a, loss_b

        def step(*batch):
            if self.replicas == 1:
                return replica_step(*batch)
            parts = [self._split(t) for t in batch]
            loss_a, loss_b = self.strategy.run(replica_step, args=parts)
            mean = tf.distribute.ReduceOp.MEAN
            return self.strategy.reduce(mean, loss_a, axis=None), self.strategy.reduce(mean, loss_b, axis=None)

        def evaluate(warped_a, target_a, masks_a, warped_b, target_b, masks_b):
            prep = [tf.cast(t, tf.float32) / 255.0 for t in (warped_a, target_a, masks_a, warped_b, target_b, masks_b)]
            out_a, out_b = network.joint([prep[0], prep[3]], training=False)
            return side(out_a, prep[1], prep[2]), side(out_b, prep[4], prep[5])

        self._step = tf.function(step)
        self._evaluate = tf.function(evaluate)

    def _split(self, array):
        count = self.replicas
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: array[ctx.replica_id_in_sync_group::count])

    @property
    def _inner(self):
        return getattr(self.optimizer, "inner_optimizer", self.optimizer)

    def optimizer_state(self) -> list[np.ndarray]:
        return [np.asarray(v.numpy()) for v in self._inner.variables]

    def _restore_optimizer(self, state) -> None:
        if not state:
            return
        variables = self._inner.variables
        if len(variables) != len(state) or any(tuple(v.shape) != s.shape for v, s in zip(variables, state)):
            log.warning("saved optimizer state does not fit this run; the optimizer starts fresh")
            return
        for var, value in zip(variables, state):
            if "learning_rate" not in var.path:   # the rate given for this run wins over the saved one
                var.assign(value)

    def step(self, batch_a, batch_b) -> tuple[float, float]:
        """Train both sides on one batch each; returns the two losses."""
        if self.replicas > 1 and len(batch_a[0]) % self.replicas:
            raise FaceswapError(f"--distributed over {self.replicas} devices needs a batch size divisible by "
                                f"{self.replicas}")
        loss_a, loss_b = self._step(*batch_a, *batch_b)
        return float(loss_a), float(loss_b)

    def evaluate(self, batch_a, batch_b) -> tuple[float, float]:
        """The two losses on one batch each, without training (to compare a model before and after reload)."""
        loss_a, loss_b = self._evaluate(*batch_a, *batch_b)
        return float(loss_a), float(loss_b)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(w.numpy()) for w in self.network.weights]


# ------------------------------------------------------------------------------------------------ stopping
class StopRequest:
    """Set by Ctrl-C, SIGTERM or a line 'q' on stdin; the loop saves and stops at the next iteration."""

    def __init__(self):
        self.reason = ""
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        if sys.stdin is not None and not sys.stdin.closed:
            threading.Thread(target=self._watch_stdin, daemon=True).start()

    def _on_signal(self, signum, _frame):
        if self.reason:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.reason = "interrupted" if signum == signal.SIGINT else "terminated"

    def _watch_stdin(self):
        try:
            for line in sys.stdin:
                if line.strip().lower() == "q":
                    self.reason = "'q' typed"
                    return
        except (OSError, ValueError):
            return

    def __bool__(self):
        return bool(self.reason)

    def close(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------------------------------------ the loop
def train(session: Session, feeders: dict, model_dir: Path, meta: dict, opts: Options, previewer=None) -> dict:
    """Run until ``opts.iterations`` steps are done (counted from the start of this run) or a stop request.

    ``meta`` is the model description saved with the weights; its iterations and history are updated.
    Returns a summary: iterations done, last losses, EG/s, why it stopped.
    """
    from tqdm import tqdm
    stop = StopRequest()
    writer = _tensorboard(model_dir) if opts.tensorboard else None
    start_iteration = int(meta.get("iterations", 0))
    history = meta.setdefault("history", [])
    window = {"a": [], "b": []}
    last_saved = start_iteration if store.exists(model_dir) else None
    done, reason, egs = 0, "finished", 0.0
    bar = tqdm(total=opts.iterations, unit="it", dynamic_ncols=True, desc="training", file=sys.stderr,
               mininterval=1.0)
    started = time.perf_counter()
    timed_from, timed_steps = started, 0
    try:
        while done < opts.iterations:
            batch_a, batch_b = feeders["a"].next(), feeders["b"].next()          # sample
            loss_a, loss_b = session.step(batch_a, batch_b)                       # train both sides
            done += 1
            iteration = start_iteration + done
            if not (math.isfinite(loss_a) and math.isfinite(loss_b)):             # never save a broken model
                kept = f"the last good save (iteration {last_saved}) is kept" if last_saved else "nothing was saved"
                raise FaceswapError(f"loss became NaN/inf at iteration {iteration} (A {loss_a}, B {loss_b}); "
                                    f"{kept}: lower --learning-rate or train with --no-mixed")
            window["a"].append(loss_a), window["b"].append(loss_b)
            timed_steps += 1
            now = time.perf_counter()
            if done == 1:   # the first step compiles the graph: leave it out of the speed
                timed_from, timed_steps = now, 0
            egs = 2 * opts.batch_size * timed_steps / (now - timed_from) if timed_steps else 0.0
            bar.set_postfix_str(f"iter {iteration} loss A {loss_a:.4f} B {loss_b:.4f} {egs:.1f} EG/s", refresh=False)
            bar.update(1)
            if writer is not None:
                _log_scalars(writer, iteration, loss_a, loss_b, egs)
            finished = done >= opts.iterations
            if stop or finished or iteration % opts.save_interval == 0:           # maybe save
                history.append([iteration, float(np.mean(window["a"])), float(np.mean(window["b"]))])
                window = {"a": [], "b": []}
                meta.update(iterations=iteration, last_egs=round(egs, 2))
                _save(session, model_dir, meta, opts, previewer, iteration)
                last_saved = iteration
            if stop:
                reason = stop.reason
                break
    finally:
        bar.close()
        stop.close()
        for feeder in feeders.values():
            feeder.close()
        if writer is not None:
            writer.close()
    return {"iterations": start_iteration + done, "done": done, "reason": reason, "egs": egs,
            "loss": history[-1][1:] if history else None}


def _save(session, model_dir, meta, opts, previewer, iteration):
    store.save(model_dir, meta, session.weights(), session.optimizer_state())
    if opts.snapshot_interval and iteration % opts.snapshot_interval == 0:
        store.snapshot(model_dir)
    if previewer is not None:
        previewer(iteration)
    log.debug("saved %s at iteration %d", model_dir, iteration)


def _tensorboard(model_dir: Path):
    import tensorflow as tf
    return tf.summary.create_file_writer(str(Path(model_dir) / "logs"))


def _log_scalars(writer, iteration, loss_a, loss_b, egs):
    """Scalar events TensorBoard plots, written with TensorFlow's core summary op (no tensorboard package)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    with writer.as_default(step=iteration):
        for tag, value in (("loss/a", loss_a), ("loss/b", loss_b), ("speed/eg_per_s", egs)):
            tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
