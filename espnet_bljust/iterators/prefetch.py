"""Read an iterator ahead in a background thread.

Own code rather than DataLoader workers: one thread keeps loading across the
stream's passes (a DataLoader's workers restart with every pass, and the
first batch of each pass would wait for them), with no extra process.
"""

import queue
import threading
from typing import Iterator, Optional

_END = object()


class Prefetcher:
    """Yields what ``source`` yields, up to ``depth`` items ahead.

    Audio decoding (soundfile) and tensor ops release the GIL, so the next
    batches load while the training step computes. An exception raised by
    ``source`` is raised again by ``__next__`` at the same place.

    Args:
        source: the iterator to read ahead (consumed only by the thread).
        depth: how many items may wait (>= 1).
        name: the thread's name.
    """

    def __init__(self, source: Iterator, depth: int, name: str = "prefetch"):
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(source,), name=name, daemon=True
        )
        self._thread.start()

    def _fill(self, source: Iterator) -> None:
        try:
            for item in source:
                if not self._put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer
            self._put((None, error))
            return
        self._put((_END, None))

    def _put(self, entry) -> bool:
        """Put ``entry`` unless closed; False once closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item, error = self._queue.get()
        if error is not None:
            self.close()
            raise error
        if item is _END:
            self.close()
            raise StopIteration
        return item

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop the thread (what it already loaded is dropped)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)
