"""The terminal's view of a job's progress: one tqdm bar per stage, and each progress message as a line."""
from __future__ import annotations

from lib.jobs import Progress


class ProgressBars:
    """A job ``progress`` callback that draws a tqdm bar (stderr) for the current stage and prints each
    :class:`~lib.jobs.Progress` message on stdout. Use as a context manager so the last bar is closed.

    ``disable`` is tqdm's: None hides the bars when stderr is not a terminal, False always draws them.
    """

    def __init__(self, disable: bool | None = None):
        self.disable = disable
        self.bar = None
        self.stage = None

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm
        if progress.stage != self.stage:
            self.close()
            unit = progress.unit[:-1] if progress.unit.endswith("s") else (progress.unit or "it")
            self.stage = progress.stage
            self.bar = tqdm(total=progress.total, desc=progress.stage, unit=unit, dynamic_ncols=True,
                            disable=self.disable, smoothing=0.1)
        if progress.total is not None and progress.total != self.bar.total:
            self.bar.total = progress.total
        if progress.done > self.bar.n:
            self.bar.update(progress.done - self.bar.n)
        postfix = {key: f"{value:.4f}" for key, value in (("A", progress.loss_a), ("B", progress.loss_b))
                   if value is not None}
        if progress.egs is not None:
            postfix["EG/s"] = f"{progress.egs:.1f}"
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        if progress.message:
            tqdm.write(progress.message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "ProgressBars":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
