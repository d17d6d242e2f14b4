"""Give memory that the process freed back to the operating system.

Model work allocates and frees large buffers (a training copy and its optimiser state, eager
attention's intermediate tensors at long texts). glibc keeps freed heap memory in its arenas (one
per thread that allocated, and Streamlit runs every script run in its own thread), so a server's
resident memory stays at its high-water mark. ``malloc_trim`` returns it; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_LIBC = None
if sys.platform.startswith("linux"):
    try:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        _LIBC = None


def return_freed_memory() -> bool:
    """Trim every malloc arena; True when the C library released anything."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))
