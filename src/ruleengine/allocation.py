"""Building many small objects at once without the cyclic garbage collector walking them each time."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_builds = 0
"""Builds in progress, in all threads: collection resumes when the last one ends."""
_was_enabled = False


@contextmanager
def collections_paused() -> Iterator[None]:
    """Pause cyclic garbage collection while a policy or one of its functions is built.

    A build allocates tens of thousands of small trees that all stay alive, so each collection would
    walk them again for nothing (about a tenth of a policy's load). Reference counting still frees
    what dies. Collection is a switch of the whole process and builds overlap (a reload beside the
    serving threads' first functions), so the builds are counted under a lock: the first one pauses
    collection, the last one resumes it if it was on before the first.
    """
    global _builds, _was_enabled
    with _lock:
        if _builds == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _was_enabled:
                gc.enable()
