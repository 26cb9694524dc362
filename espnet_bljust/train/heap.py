"""Return the free pages of the C heap to the system between passes.

Mini-batches of many different shapes (an unlabeled stream of varied
lengths) leave free holes in glibc's heap that the next, differently shaped
tensors do not fit, so the heap grows and its resident size keeps the
high-water mark of every shape seen. ``malloc_trim(0)`` gives every whole
free page of every arena back (madvise), without moving a live tensor: the
numbers trained are unchanged, only resident memory falls.

Kept as a few ctypes lines: no maintained Python package wraps malloc_trim.
"""

import ctypes
import functools
from typing import Callable, Optional


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Optional[Callable[[int], int]]:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def trim_heap() -> bool:
    """Give the heap's free pages back to the system; True when glibc did
    (False: nothing to give back, or no glibc here)."""
    function = _malloc_trim()
    return bool(function(0)) if function is not None else False
