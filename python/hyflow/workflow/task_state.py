"""``ctx.state``: a task's checkpointed dict, which also carries stateful objects across a restart.

    model = ctx.state.setdefault("model", Net())           # first run: stores Net()
    opt = ctx.state.setdefault("opt", hy.optim.AdamW(model.parameters()))
    # after a resume: the checkpoint held model.state_dict(); setdefault loads it into the fresh Net()

A checkpoint cannot re-create an arbitrary object (that would need pickle), so an object with
``state_dict()``/``load_state_dict()`` is saved as its state dict and comes back *pending*: invisible to
``in``/``len``/iteration until the task hands in a freshly built object of the same class with
``setdefault(key, obj)`` or ``state[key] = obj``, which loads the saved state into it.
"""
import collections.abc

__all__ = ["TaskState", "PendingRestore", "is_stateful", "class_path"]


def is_stateful(obj):
    """True for objects that checkpoint through ``state_dict()`` / ``load_state_dict()``."""
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))


def class_path(obj_or_class):
    cls = obj_or_class if isinstance(obj_or_class, type) else type(obj_or_class)
    return f"{cls.__module__}.{cls.__qualname__}"


class PendingRestore:
    """The saved state dict of a stateful object, waiting for an object to load into."""

    __slots__ = ("class_name", "state")

    def __init__(self, class_name, state):
        self.class_name = class_name  # "module.QualName" of the object it was saved from
        self.state = state

    def accepts(self, obj):
        # Only the qualified class name is compared, not the module: the same class is `__main__.Net`
        # when a script runs directly and `mymod.Net` when the YAML runner imports it.
        return is_stateful(obj) and type(obj).__qualname__ == self.class_name.rpartition(".")[2]

    def __repr__(self):
        return f"<pending {self.class_name} state>"


class TaskState(collections.abc.MutableMapping):
    """A dict (same repr, equality, ``copy()``) plus pending restores of stateful objects."""

    def __init__(self, *args, **kwargs):
        self._data = {}
        self._pending = {}
        self.update(*args, **kwargs)

    # ---- the dict part ---------------------------------------------------------------------------
    def __getitem__(self, key):
        try:
            return self._data[key]
        except KeyError:
            pending = self._pending.get(key)
            if pending is None:
                raise
        raise KeyError(f"{key!r} was restored from a checkpoint as the state of a {pending.class_name} and "
                       f"needs an object to load into: re-create it with "
                       f"state.setdefault({key!r}, {pending.class_name.rpartition('.')[2]}(...)) "
                       f"so the checkpoint can load into it")

    def __setitem__(self, key, value):
        pending = self._pending.get(key)
        if pending is not None:
            self._restore(key, pending, value)
        self._data[key] = value

    def __delitem__(self, key):
        # Deleting a pending key discards the saved state, so the next checkpoint forgets it.
        if key in self._pending:
            del self._pending[key]
            return
        del self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data

    def __repr__(self):
        return repr(self._data)

    def setdefault(self, key, default=None):
        if key in self._data:
            return self._data[key]
        self[key] = default
        return default

    def copy(self):
        """A shallow copy that keeps the pending restores."""
        other = TaskState(self._data)
        other._pending = dict(self._pending)
        return other

    def rollback_to(self, snapshot):
        """Make this state equal to ``snapshot`` (an earlier ``copy()``) in place: a retried attempt
        starts from what the failed one started from, and everyone holding this object sees it."""
        self._data = dict(snapshot._data)
        self._pending = dict(snapshot._pending)

    def to_dict(self):
        """A plain dict of the live entries (pending restores are left out)."""
        return dict(self._data)

    # ---- pending restores ------------------------------------------------------------------------
    def pending_keys(self):
        """Keys holding a saved state dict that no object has claimed yet."""
        return list(self._pending)

    def pending_items(self):
        """(key, PendingRestore) pairs; the checkpoint writer re-saves them as they are."""
        return list(self._pending.items())

    def set_pending(self, key, class_name, state):
        """Hold ``state`` (saved from an object of ``class_name``) until an object claims ``key``."""
        self._data.pop(key, None)
        self._pending[key] = PendingRestore(class_name, state)

    def materialise_pending(self):
        """Turn every pending entry into its saved state dict, as a plain value; returns their keys.

        A run does this at its end for the entries no step claimed (a run resumed at its last step has
        no step to claim them), so ``result.state`` holds everything the checkpoint restored:
        ``Net().load_state_dict(result.state["train"]["model"])``."""
        keys = list(self._pending)
        for key, pending in self._pending.items():
            self._data[key] = pending.state
        self._pending = {}
        return keys

    def _restore(self, key, pending, obj):
        if not pending.accepts(obj):
            what = class_path(obj) if is_stateful(obj) else f"{class_path(obj)} (which has no load_state_dict)"
            raise TypeError(f"state[{key!r}] was checkpointed from a {pending.class_name}, cannot restore it "
                            f"into a {what}; assign a {pending.class_name.rpartition('.')[2]} or "
                            f"`del state[{key!r}]` first to drop the saved state")
        obj.load_state_dict(pending.state)
        del self._pending[key]
