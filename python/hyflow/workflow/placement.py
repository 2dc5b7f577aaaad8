"""Which MPI ranks run a task.

A task's `ranks` is one of:
    None or "all"      every rank runs its own instance (SPMD)
    "first" / "last"   rank 0 / rank size-1
    an int             that rank (negative counts from the end: -1 is the last rank)
    a list of ints     those ranks
    "a:b"              the ranks a..b-1 in Python slice notation ("0:-1": all but the last)
In a one-process run every placement collapses onto rank 0, so a script runs unchanged without MPI.
"""

__all__ = ["check_ranks", "resolve_ranks", "describe_ranks"]


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _parse_slice(text, what):
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"{what}: {text!r} is not a rank range like '0:-1'")
    try:
        return slice(*(int(p) if p.strip() else None for p in parts))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a rank range like '0:-1'") from None


def check_ranks(ranks, what="ranks"):
    """Raise TypeError/ValueError when `ranks` is not a placement (see the module doc)."""
    if ranks is None or _is_int(ranks):
        return
    if isinstance(ranks, str):
        if ranks in ("all", "first", "last"):
            return
        _parse_slice(ranks, what)
        return
    if isinstance(ranks, (list, tuple)):
        if not ranks:
            raise ValueError(f"{what}: an empty rank list places the task nowhere")
        for r in ranks:
            if not _is_int(r):
                raise TypeError(f"{what}: rank lists hold ints, got {r!r}")
        if len(set(ranks)) != len(ranks):
            raise ValueError(f"{what}: rank {ranks} lists a rank twice")
        return
    raise TypeError(f"{what} must be None, 'all', 'first', 'last', an int, a list of ints or 'a:b', got {ranks!r}")


def resolve_ranks(ranks, size, what="ranks"):
    """The sorted ranks of a world of `size` that run a task placed at `ranks`."""
    check_ranks(ranks, what)
    everyone = list(range(size))
    if ranks is None or ranks == "all":
        return everyone
    if ranks == "first":
        return [0]
    if ranks == "last":
        return [size - 1]
    if isinstance(ranks, str):
        chosen = everyone[_parse_slice(ranks, what)]
        if not chosen:
            if size == 1:
                return [0]  # one process: every placement lands on it
            raise ValueError(f"{what}: {ranks!r} selects no rank of a {size}-process world")
        return chosen
    items = [ranks] if _is_int(ranks) else list(ranks)
    if size == 1:
        return [0]
    out = []
    for r in items:
        rr = r + size if r < 0 else r
        if not 0 <= rr < size:
            raise ValueError(f"{what}: rank {r} does not exist in a {size}-process world")
        out.append(rr)
    return sorted(set(out))


def describe_ranks(ranks):
    """A stable text form of a placement, for describe()/DOT (None for the default, every rank)."""
    if ranks is None or ranks == "all":
        return None
    if isinstance(ranks, (list, tuple)):
        return ",".join(str(r) for r in ranks)
    return str(ranks)
