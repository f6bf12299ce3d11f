"""Run a stage of a pipeline in a background thread, so decoding, detection, prediction and encoding overlap."""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

_DONE = object()


def background(iterable: Iterable, depth: int = 8, name: str = "stage") -> Iterator:
    """Iterate ``iterable`` in a background thread, up to ``depth`` items ahead; errors are re-raised here."""
    items: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        iterator = iter(iterable)
        try:
            for item in iterator:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer thread
            put(err)
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()

    thread = threading.Thread(target=work, name=f"convert-{name}", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(5)
