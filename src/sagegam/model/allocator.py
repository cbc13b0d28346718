"""glibc's allocator tuned for the length of a task, where a worker has detuned it.

Dask's nannies start worker processes with ``MALLOC_TRIM_THRESHOLD_=65536`` (so that
freed memory goes back to the system and the worker's memory monitor sees it). Setting
it also stops glibc from raising its mmap threshold as a process allocates: every
temporary array over 128 KB is then mapped and unmapped afresh, each page faulted in
again, and numpy code that works in blocks of a few megabytes (evaluating splines
8,192 rows at a time, cross-tabulating bin indexes) runs three to five times slower.
:func:`task_allocator` lifts the two thresholds while a task runs and puts back the
process's own settings, and returns the freed memory, when the last running task ends.
Where the variable is not set (glibc adjusts the threshold itself), or off glibc, it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_DEFAULT = 128 * 1024
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest on 64-bit systems
_lock = threading.Lock()
_running = 0


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 (absent from non-glibc C libraries)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def _settings() -> tuple[int, int] | None:
    """The trim and mmap thresholds the environment fixed, or None when it fixed none."""
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if trim is None or not trim.isdigit():
        return None
    mmap = os.environ.get("MALLOC_MMAP_THRESHOLD_", "")
    return int(trim), int(mmap) if mmap.isdigit() else MMAP_THRESHOLD_DEFAULT


@contextmanager
def task_allocator() -> Iterator[None]:
    """Large thresholds inside, the environment's (and a trim) when the last task ends."""
    settings, libc = _settings(), _libc()
    if settings is None or libc is None:
        yield
        return
    global _running
    with _lock:
        _running += 1
        if _running == 1:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                trim, mmap = settings
                libc.mallopt(M_TRIM_THRESHOLD, trim)
                libc.mallopt(M_MMAP_THRESHOLD, mmap)
                libc.malloc_trim(0)
