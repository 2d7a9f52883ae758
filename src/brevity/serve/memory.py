"""Keeps a long-running server's resident memory flat under glibc malloc.

Nothing here frees a Python object: every cache and index of the gateway is bounded by its own setting. What
creeps without this is the allocator. Each thread that decodes (the scheduler's, a route's side engine, the
HTTP pool) gets its own malloc arena, and tensors of a different shape every step leave holes in all of them
that glibc keeps mapped. Two arenas are plenty for a server whose heavy work is in torch's own threads, and a
periodic `malloc_trim(0)` hands the free pages back to the kernel (glibc >= 2.8 releases them from the middle
of the heap too, not only its top). Third, the mmap threshold is fixed at 1 MB: glibc otherwise raises it to the
largest block it has freed, so after the first long batch every KV tensor up to that size lands in the heap,
whose holes `malloc_trim` can only partly return (quiet 30-minute soaks, 2026-12-02, docs/findings/serving.md: +4.0%
after warm-up with the dynamic threshold, +1.1% with it fixed, at the same request rate). All are no-ops where
the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_ARENA_MAX = -8  # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20  # bytes; blocks this large or larger are mapped on their own and unmapped when freed


def _glibc():
    """The C library when it is glibc (it has malloc_trim), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


class MallocTrimmer:
    """Caps glibc's arenas at `arenas` (threads started later share them), fixes the mmap threshold, and trims
    the heap every `every_s` seconds on a daemon thread. `every_s` 0 turns all three off."""

    def __init__(self, every_s: float, arenas: int = 2):
        self.every_s, self.trims = every_s, 0
        self.libc = _glibc() if every_s > 0 else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.libc is not None:
            self.libc.mallopt(M_ARENA_MAX, arenas)
            self.libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)

    def start(self) -> MallocTrimmer:
        if self.libc is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="brevity-malloc-trim", daemon=True)
            self._thread.start()
        return self

    def trim(self) -> None:
        if self.libc is not None:
            self.libc.malloc_trim(0)
            self.trims += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.trim()

    def close(self) -> None:
        self._stop.set()
