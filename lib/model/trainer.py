"""The training loop, readable top to bottom: sample both sides -> one compiled step -> log -> maybe save.

:class:`Session` owns what a step needs (network, optimizer, loss, precision, device strategy, the parts
left frozen) and compiles one ``tf.function`` that trains side A and side B together. :func:`train` is the
loop around it; it stops on the iteration count, on the time budget (``--time``, saving first), on its
cancel flag (saving first; the CLI sets it on Ctrl-C, ``q`` + Enter or SIGTERM, the service and the GUI on
a stop request), and on a NaN/inf loss (keeping the last good save untouched).

The learning rate follows a :class:`Schedule` of the model's own iteration count (warm-up, then flat, cosine
or step decay), so a resumed model continues its schedule where it was.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.model import store

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ schedule
SCHEDULES = ("flat", "cosine", "step")
DEFAULT_FLOOR = 0.1       # decays stop at this share of the rate
DEFAULT_FACTOR = 0.5      # step decay: the rate is multiplied by this at every interval


@dataclass(frozen=True)
class Schedule:
    """Learning rate as a function of the model's iteration count (the number of steps done before this one).

    Linear warm-up from ``rate / warmup`` to ``rate`` over the first ``warmup`` steps, then ``kind``:
    ``flat`` keeps ``rate``; ``cosine`` falls along half a cosine to ``floor * rate`` over ``steps`` steps and
    stays there; ``step`` multiplies by ``factor`` every ``steps`` steps, never below ``floor * rate``.
    """
    rate: float
    kind: str = "flat"
    warmup: int = 0
    steps: int = 0
    factor: float = DEFAULT_FACTOR
    floor: float = DEFAULT_FLOOR

    def __call__(self, iteration: int) -> float:
        iteration = max(0, int(iteration))
        if iteration < self.warmup:
            return self.rate * (iteration + 1) / self.warmup
        t = iteration - self.warmup
        low = self.rate * self.floor
        if self.kind == "cosine":
            if t >= self.steps:
                return low
            return low + (self.rate - low) * 0.5 * (1.0 + math.cos(math.pi * t / self.steps))
        if self.kind == "step":
            return max(low, self.rate * self.factor ** (t // self.steps))
        return self.rate

    @property
    def spec(self) -> str:
        """The ``--lr-schedule`` text that gives this schedule back (saved with the model)."""
        if self.kind == "cosine":
            return f"cosine:{self.steps}:{self.floor:g}"
        if self.kind == "step":
            return f"step:{self.steps}:{self.factor:g}:{self.floor:g}"
        return "flat"


def parse_schedule(spec: str | None, rate: float, warmup: int = 0, horizon: int | None = None) -> Schedule:
    """A :class:`Schedule` from ``--lr-schedule`` text: ``flat``, ``cosine[:STEPS[:FLOOR]]`` or
    ``step:EVERY[:FACTOR[:FLOOR]]``. A cosine without STEPS decays until ``horizon`` (the run's last
    iteration, after the warm-up); FLOOR is a share of ``rate``. Bad text: one FaceswapError saying the form."""
    usage = "give flat, cosine[:STEPS[:FLOOR]] or step:EVERY[:FACTOR[:FLOOR]], e.g. cosine:20000:0.1"
    text = (spec or "flat").strip().lower()
    kind, *fields = [part.strip() for part in text.split(":")]
    if kind not in SCHEDULES or len(fields) > {"flat": 0, "cosine": 2, "step": 3}[kind]:
        raise FaceswapError(f"--lr-schedule {spec}: {usage}")
    if not (isinstance(warmup, int) and 0 <= warmup <= 10 ** 9):
        raise FaceswapError(f"--warmup {warmup}: give a number of steps, 0 or more")
    if not (math.isfinite(rate) and rate > 0):
        raise FaceswapError(f"--learning-rate {rate}: give a rate above 0, e.g. 5e-5")
    try:
        if kind == "flat":
            return Schedule(rate, "flat", warmup)
        if kind == "cosine":
            steps = int(fields[0]) if fields and fields[0] else (horizon or 0) - warmup
            floor = float(fields[1]) if len(fields) > 1 else DEFAULT_FLOOR
            factor = DEFAULT_FACTOR
        else:
            steps = int(fields[0]) if fields and fields[0] else 0
            factor = float(fields[1]) if len(fields) > 1 else DEFAULT_FACTOR
            floor = float(fields[2]) if len(fields) > 2 else DEFAULT_FLOOR
    except ValueError:
        raise FaceswapError(f"--lr-schedule {spec}: {usage}") from None
    if steps < 1:
        what = "STEPS (the decay length)" if kind == "cosine" else "EVERY (steps between decays)"
        raise FaceswapError(f"--lr-schedule {spec}: {what} must be at least 1" +
                            (" (with --time, give it: cosine:STEPS)" if kind == "cosine" and not fields else ""))
    if not (0 <= floor <= 1 and 0 < factor < 1):
        raise FaceswapError(f"--lr-schedule {spec}: FLOOR is a share of the rate (0-1) and FACTOR lies between "
                            f"0 and 1: {usage}")
    return Schedule(rate, kind, warmup, steps, factor, floor)


# ------------------------------------------------------------------------------------------------ session
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
    preview_interval: int = 0     # also write the preview grid every N steps (0: only at saves)
    time_limit: float | None = None   # seconds of training in this run (None: no limit); saved at the end
    schedule: Schedule | None = None  # learning rate by iteration (None: flat ``learning_rate``)
    freeze: tuple = ()            # parts (encoder, decoder_a ...) whose weights this run leaves unchanged

    def rate_at(self, iteration: int) -> float:
        return self.schedule(iteration) if self.schedule is not None else self.learning_rate


class Session:
    """Network + optimizer + loss compiled into one training step over both sides.

    The optimizer is built over every weight, frozen or not, so its saved state has the same layout whatever
    ``--freeze`` a run uses; a frozen part just gets no gradient step."""

    def __init__(self, network, opts: Options, policy: str, strategy=None, optimizer_state=None):
        import keras
        import tensorflow as tf
        from lib.model import losses, transfer
        self.network, self.opts, self.policy = network, opts, policy
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        loss = losses.weighted_sum(opts.loss)
        with self.strategy.scope():
            size = network.input_size
            zeros = np.zeros((1, size, size, 3), np.float32)
            network.joint([zeros, zeros])  # variables exist (in this scope) before the optimizer is built
            self.variables = network.joint.trainable_variables
            frozen = {id(v) for v in transfer.frozen_variables(network, opts.freeze)}
            self.trained = [v for v in self.variables if id(v) not in frozen]
            if not self.trained:
                raise FaceswapError(f"--freeze {' '.join(opts.freeze)} leaves nothing to train: freeze fewer parts")
            self._rate = opts.rate_at(0)
            inner = keras.optimizers.Adam(self._rate, beta_1=0.5, beta_2=0.999)
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
            grads = tape.gradient(scaled, self.trained)
            self.optimizer.apply_gradients(zip(grads, self.trained))
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
            if "learning_rate" not in var.path:   # the rate comes from this run's schedule, not the save
                var.assign(value)

    @property
    def rate(self) -> float:
        """The learning rate the optimizer holds (the last step's), read back from its variable."""
        return float(np.asarray(self._inner.learning_rate.numpy()))

    def step(self, batch_a, batch_b, iteration: int = 0) -> tuple[float, float]:
        """Train both sides on one batch each, at the rate the schedule gives the model's ``iteration``
        (steps done before this one); returns the two losses."""
        if self.replicas > 1 and len(batch_a[0]) % self.replicas:
            raise FaceswapError(f"--distributed over {self.replicas} devices needs a batch size divisible by "
                                f"{self.replicas}")
        rate = self.opts.rate_at(iteration)
        if rate != self._rate:      # a flat schedule never touches the variable
            self._inner.learning_rate = rate
            self._rate = rate
        loss_a, loss_b = self._step(*batch_a, *batch_b)
        return float(loss_a), float(loss_b)

    def evaluate(self, batch_a, batch_b) -> tuple[float, float]:
        """The two losses on one batch each, without training (to compare a model before and after reload)."""
        loss_a, loss_b = self._evaluate(*batch_a, *batch_b)
        return float(loss_a), float(loss_b)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(w.numpy()) for w in self.network.weights]


# ------------------------------------------------------------------------------------------------ the loop
def train(session: Session, feeders: dict, model_dir: Path, meta: dict, opts: Options, previewer=None,
          report=None, cancel=None, control=None) -> dict:
    """Run until ``opts.iterations`` steps are done (counted from the start of this run), ``opts.time_limit``
    seconds have passed (whichever comes first) or ``cancel`` is set; each of these saves.

    ``meta`` is the model description saved with the weights; its iterations, history and ``train_seconds``
    (training time of all runs, the clock of the quality benchmark) are updated.
    ``previewer(iteration, saved)`` writes preview images and returns the path of the preview grid (or None).
    ``report`` is a :class:`lib.jobs.Reporter` (or any callable of the same signature); ``cancel`` a
    :class:`lib.jobs.Cancel`: when set, the loop saves and stops. ``control.take()`` returns what a front end
    asked for since the last step ("save", "snapshot", "preview").
    Returns a summary: iterations done, last losses, EG/s, why it stopped (``reason``: "finished", "time is
    up" or the cancel reason; ``stopped``: by ``cancel``), the seconds this run trained, the latest preview.
    """
    from lib import duration
    writer = _tensorboard(model_dir) if opts.tensorboard else None
    start_iteration = int(meta.get("iterations", 0))
    trained_before = float(meta.get("train_seconds", 0.0))
    history = meta.setdefault("history", [])
    window = {"a": [], "b": []}
    last_saved = start_iteration if store.exists(model_dir) else None
    done, reason, stopped, egs, eta, preview = 0, "finished", False, 0.0, None, None
    started = timed_from = time.perf_counter()
    timed_steps, elapsed = 0, 0.0
    try:
        while done < opts.iterations:
            batch_a, batch_b = feeders["a"].next(), feeders["b"].next()          # sample
            loss_a, loss_b = session.step(batch_a, batch_b, start_iteration + done)   # train both sides
            done += 1
            iteration = start_iteration + done
            if not (math.isfinite(loss_a) and math.isfinite(loss_b)):             # never save a broken model
                kept = f"the last good save (iteration {last_saved}) is kept" if last_saved else "nothing was saved"
                raise FaceswapError(f"loss became NaN/inf at iteration {iteration} (A {loss_a}, B {loss_b}); "
                                    f"{kept}: lower --learning-rate or train with --no-mixed")
            window["a"].append(loss_a), window["b"].append(loss_b)
            timed_steps += 1                                                      # speed
            now = time.perf_counter()
            if done == 1:   # the first step compiles the graph: leave it out of the speed
                timed_from, timed_steps = now, 0
            if timed_steps:
                egs = 2 * opts.batch_size * timed_steps / (now - timed_from)
                eta = (opts.iterations - done) * (now - timed_from) / timed_steps
            elapsed = now - started                   # training time of this run (saves and previews aside)
            timed_out = opts.time_limit is not None and elapsed >= opts.time_limit
            if opts.time_limit is not None:
                eta = max(0.0, min(eta if eta is not None else math.inf, opts.time_limit - elapsed))
            if writer is not None:
                _log_scalars(writer, iteration, loss_a, loss_b, egs, session.rate)
            asked = control.take() if control is not None else set()
            stop = cancel is not None and cancel.is_set()
            save = (stop or timed_out or done >= opts.iterations or iteration % opts.save_interval == 0
                    or bool(asked & {"save", "snapshot"}))
            message = ""
            if save:                                                              # maybe save
                history.append([iteration, float(np.mean(window["a"])), float(np.mean(window["b"]))])
                window = {"a": [], "b": []}
                meta.update(iterations=iteration, last_egs=round(egs, 2),
                            train_seconds=round(trained_before + elapsed, 1))
                message = _save(session, model_dir, meta, opts, iteration, "snapshot" in asked)
                last_saved = iteration
            if previewer is not None and (save or "preview" in asked or _preview_due(opts, done, iteration)):
                preview = previewer(iteration, save) or preview                   # maybe preview
            if report is not None:                                                # log
                report("train", done, _expected_total(opts, done, timed_steps, now - timed_from, elapsed, timed_out),
                       force=save or stop or timed_out, unit="it", iteration=iteration,
                       loss_a=loss_a, loss_b=loss_b, egs=round(egs, 2), eta=eta,
                       preview=str(preview) if preview else None, message=message)
            if stop:
                reason, stopped = cancel.reason or "cancelled", True
                break
            if timed_out and done < opts.iterations:
                reason = f"time is up ({duration.format(opts.time_limit)})"
                break
    finally:
        for feeder in feeders.values():
            feeder.close()
        if writer is not None:
            writer.close()
    return {"iterations": start_iteration + done, "done": done, "reason": reason, "stopped": stopped, "egs": egs,
            "loss": history[-1][1:] if history else None, "preview": str(preview) if preview else None,
            "seconds": round(elapsed, 1), "learning_rate": session.rate}


def _expected_total(opts: Options, done: int, timed_steps: int, timed_seconds: float, elapsed: float,
                    timed_out: bool) -> int:
    """The steps this run will make: ``opts.iterations``, or fewer when the time budget runs out first (an
    estimate from the speed so far, exact once the time is up), so progress bars end where the run ends."""
    if opts.time_limit is None:
        return opts.iterations
    if timed_out:
        return done
    if not timed_steps or timed_seconds <= 0:
        return opts.iterations
    left = max(0.0, opts.time_limit - elapsed)
    return int(min(opts.iterations, max(done + 1, done + round(left * timed_steps / timed_seconds))))


def _preview_due(opts: Options, done: int, iteration: int) -> bool:
    """A live preview (``preview_interval``) is due: every N iterations, and after the first step."""
    return bool(opts.preview_interval) and (done == 1 or iteration % opts.preview_interval == 0)


def _save(session, model_dir, meta, opts, iteration, snapshot: bool = False) -> str:
    store.save(model_dir, meta, session.weights(), session.optimizer_state())
    message = f"saved at iteration {iteration}"
    if snapshot or (opts.snapshot_interval and iteration % opts.snapshot_interval == 0):
        message += f", snapshot {store.snapshot(model_dir)}"
    log.debug("%s: %s", model_dir, message)
    return message


def _tensorboard(model_dir: Path):
    import tensorflow as tf
    return tf.summary.create_file_writer(str(Path(model_dir) / "logs"))


def _log_scalars(writer, iteration, loss_a, loss_b, egs, rate):
    """Scalar events TensorBoard plots, written with TensorFlow's core summary op (no tensorboard package)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    with writer.as_default(step=iteration):
        for tag, value in (("loss/a", loss_a), ("loss/b", loss_b), ("speed/eg_per_s", egs),
                           ("learning_rate", rate)):
            tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
