"""hy.memory: the CPU block cache (docs/tensors.md, "Memory").

Freed CPU blocks of 64 KiB and more are kept (up to 256 MiB in all) and handed to the next allocation of
the same size class, so a loop that allocates the same shapes every iteration does not page-fault fresh
memory each time. A block goes back to the cache only when the last tensor (or view) of its storage is
gone, so a cached block is never reused while anything can still read it.

    hy.memory.stats()        # {'enabled', 'cached_bytes', 'cached_blocks', 'limit_bytes', 'hits', ...}
    hy.memory.empty_cache()  # give every cached block back to the system

``HYFLOW_CPU_CACHE=0`` in the environment (read at the first allocation) disables the cache; it is always
off in sanitizer (ASan) builds, so that a use-after-free is reported.
"""
from . import _C

__all__ = ["stats", "empty_cache", "reset_counters"]


def stats():
    """The CPU block cache's state: ``enabled``, ``cached_bytes`` / ``cached_blocks`` (held now, not in
    use), ``limit_bytes``, ``min_block_bytes`` (smaller blocks are never cached), ``hits`` / ``misses``
    (allocations of a cacheable size served from the cache / freshly), ``released_bytes`` (freed by
    :func:`empty_cache`) since the start or :func:`reset_counters`."""
    return _C._cpu_cache_stats()


def empty_cache():
    """Free every cached CPU block (blocks of live tensors are untouched). Useful before handing memory to
    another library or process; the next large allocations page-fault fresh memory again."""
    _C._cpu_cache_release()


def reset_counters():
    """Zero the ``hits``, ``misses`` and ``released_bytes`` counters of :func:`stats`."""
    _C._cpu_cache_reset_counters()
