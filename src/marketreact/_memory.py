"""Let the process keep the memory it frees, for large studies (glibc's ``mallopt``).

A study of a million events allocates and frees arrays of tens to hundreds of MB many
times over. By default glibc hands every such array back to the operating system when it
is freed, and the next one comes back as fresh pages that the kernel must fault in and
zero: about a tenth of the CPU time of a large study (``perf`` shows it in
``clear_page``). :func:`reuse_freed_memory` raises glibc's thresholds so that freed
memory stays in the process and is reused; the process no longer shrinks after a study.
A program or notebook that runs several large studies may call it once; the command line,
which runs one study per process, does not (a first study faults its memory in anyway).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``mallopt`` parameters (glibc's ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations up to this size come from the heap, not from fresh mappings.
_MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap kept rather than returned (the most ``mallopt`` takes).
_TRIM_THRESHOLD = (1 << 31) - 1


def reuse_freed_memory() -> bool:
    """Keep freed memory in this process for reuse (Linux with glibc; elsewhere nothing).

    Large arrays then come from memory the process already has instead of fresh pages
    from the kernel: the large studies after the first run about a tenth faster
    (docs/performance.md). The setting holds for the whole process and cannot be undone;
    the memory a study used stays with the process until it exits.

    Returns
    -------
    bool
        Whether the setting was applied (False off glibc).

    Examples
    --------
    >>> import marketreact
    >>> marketreact.reuse_freed_memory()  # doctest: +SKIP
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
