"""Which members an ensemble has: an explicit list or mapping of parameter dicts, a parameter grid, seeds,
or a grid crossed with seeds, turned into one ordered {member id: params} mapping.

Member ids name folders (``members/<id>/``) and rows of the results table, so they must be stable
across runs of the same ensemble: a list gets ids from its positions (``"0000"``, ``"0001"``, ...), a
mapping keeps its keys. Parameters must be JSON data, because they are written beside each member's
checkpoints and compared on resume.
"""
import itertools
import json
import math
import re

__all__ = ["parameter_grid", "seed_members", "resolve_members"]

_MEMBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def parameter_grid(**axes):
    """Every combination of the given values, in row-major order (the last axis varies fastest).

        parameter_grid(nu=[1e-3, 3e-3], forcing=[0.01, 0.03])
        -> [{"nu": 0.001, "forcing": 0.01}, {"nu": 0.001, "forcing": 0.03}, {"nu": 0.003, ...}, ...]
    """
    if not axes:
        raise ValueError("parameter_grid: give at least one axis, e.g. parameter_grid(nu=[1e-3, 3e-3])")
    for name, values in axes.items():
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(f"parameter_grid: axis '{name}' must be a list of values, got {type(values).__name__}")
    lists = {name: list(values) for name, values in axes.items()}
    for name, values in lists.items():
        if not values:
            raise ValueError(f"parameter_grid: axis '{name}' has no values")
    names = list(lists)
    return [dict(zip(names, combo)) for combo in itertools.product(*(lists[n] for n in names))]


def seed_members(seeds, base=None):
    """One member per seed: ``seeds`` is a count n (seeds 0..n-1) or a list of ints; each member's params
    are ``base`` (a dict, or a list of dicts to cross with the seeds) plus ``"seed"``."""
    if isinstance(seeds, bool):
        raise TypeError("seeds must be an int count or a list of ints, got bool")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 when it is a count, got {seeds}")
        seeds = list(range(seeds))
    elif isinstance(seeds, (list, tuple, range)):
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds: the list is empty")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int):
                raise TypeError(f"seeds: every seed must be an int, got {s!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: the list repeats a seed: {seeds}")
    else:
        raise TypeError(f"seeds must be an int count or a list of ints, got {type(seeds).__name__}")
    bases = [{}] if base is None else ([base] if isinstance(base, dict) else list(base))
    members = []
    for b in bases:
        if "seed" in b:
            raise ValueError(f"seeds: the parameters {b} already have a 'seed'; give seeds in one place")
        members.extend(dict(b, seed=s) for s in seeds)
    return members


def resolve_members(members=None, grid=None, seeds=None):
    """{member id: params} from Ensemble's members= / grid= / seeds= arguments (see Ensemble)."""
    if members is not None and grid is not None:
        raise ValueError("Ensemble: give members= or grid=, not both")
    if members is None and grid is None and seeds is None:
        raise ValueError("Ensemble: no members: give members=[{...}, ...], grid={'name': [values]} or seeds=N")
    if grid is not None:
        if not isinstance(grid, dict):
            raise TypeError(f"Ensemble: grid must be a dict of name -> list of values, got {type(grid).__name__}")
        members = parameter_grid(**grid)
    if isinstance(members, dict):
        if seeds is not None:
            raise ValueError("Ensemble: seeds= crosses a list of members; with a mapping of named members, put "
                             "the seed in each member's parameters")
        named = dict(members)
    else:
        if members is not None and (isinstance(members, (str, bytes)) or not hasattr(members, "__iter__")):
            raise TypeError(f"Ensemble: members must be a list of parameter dicts or a dict of id -> params, "
                            f"got {type(members).__name__}")
        listed = list(members) if members is not None else None
        if seeds is not None:
            listed = seed_members(seeds, listed)
        if not listed:
            raise ValueError("Ensemble: members is empty")
        named = {f"{i:04d}": p for i, p in enumerate(listed)}
    if not named:
        raise ValueError("Ensemble: members is empty")
    for member_id, params in named.items():
        _check_member(member_id, params)
    return {member_id: _canonical(params) for member_id, params in named.items()}


def _check_member(member_id, params):
    if not isinstance(member_id, str) or not _MEMBER_ID.match(member_id):
        raise ValueError(f"Ensemble: member id {member_id!r} must be a string of letters, digits, '_', '.', '-' "
                         "(it names the member's folder), starting with a letter or digit, at most 100 long")
    if not isinstance(params, dict):
        raise TypeError(f"Ensemble: member {member_id}'s parameters must be a dict, got {type(params).__name__}")
    for key in params:
        if not isinstance(key, str):
            raise TypeError(f"Ensemble: member {member_id}'s parameter names must be str, got {key!r}")
    _check_json(params, f"member {member_id} params")


def _check_json(value, where):
    """Parameters and metrics go into JSON files: refuse what JSON cannot hold back exactly."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Ensemble: {where} holds {value}, which JSON cannot store; use None or a string")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"Ensemble: {where} has a non-str key {k!r}")
            _check_json(v, f"{where}[{k!r}]")
        return
    raise TypeError(f"Ensemble: {where} holds a {type(value).__name__} ({value!r:.60}); parameters must be "
                    "JSON data (numbers, strings, bools, None, lists and dicts of them)")


def _canonical(params):
    # Through JSON and back: tuples become lists, so a resumed run compares equal to the stored params.
    return json.loads(json.dumps(params))
