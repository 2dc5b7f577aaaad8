"""Every op by name, built-in or user-defined: ``hy.ops.add(x, y)``, ``hy.ops.my_op(x)``.

Built-in ops come from the op table (csrc/ops/table/*.yaml) and are bound directly to their C++ front
functions. Ops defined at run time go through the same dispatcher:

    hy.ops.define("scale_add(Tensor x, Tensor y, *, float alpha=1.0) -> Tensor")

    @hy.ops.impl("scale_add", "cpu")
    def _scale_add(x, y, alpha):
        return x + alpha * y

    hy.ops.scale_add(a, b, alpha=2.0)

or with a C++ kernel compiled out of tree and loaded with ``hy.ops.load_library(path)``
(docs/extending.md).

Op-table metadata: ``hy.ops.schema(name)`` (every field as text) and, parsed, ``hy.ops.metadata(name)``,
``hy.ops.onnx_spec(name)``, ``hy.ops.autocast_spec(name)``, ``hy.ops.backward_formulas(name)``
(metadata.py).
"""
import functools as _functools
import sys as _sys
import types as _types

from .. import _C
from .metadata import autocast_spec, backward_formulas, metadata, onnx_spec  # noqa: F401  (public API)

_builtin = _C.ops


def schema(name):
    """The op-table entry of ``name`` as a dict (schema, dtypes, rules, backward, onnx, ...)."""
    return _C._op_info(name)


def list_ops():
    """Names of every registered op, sorted."""
    return list(_C._op_names())


def define(schema_text, *, doc="", **meta):
    """Declare a new op from its schema text; its kernels are added with :func:`impl`."""
    meta = {k: str(v) for k, v in meta.items()}
    if doc:
        meta["doc"] = doc
    _C._define_op(schema_text, meta)
    name = schema_text.split("(", 1)[0].strip()
    return getattr(_this, name)


def impl(name, device="cpu"):
    """Decorator: register a Python function as the kernel of op ``name`` on ``device``."""
    def register(fn):
        if not callable(fn):
            raise TypeError(f"impl({name!r}): the kernel must be callable, got {type(fn).__name__}")
        _C._impl_python(name, device, fn)
        return fn
    return register


def load_library(path):
    """Load a shared library built against hyflow's C++ API; it registers its ops and kernels."""
    import os
    if not os.path.exists(path):
        raise ValueError(f"load_library: no file at {path!r}")
    # dlopen searches system paths for a bare file name; a user means the file they named.
    _C._load_library(os.path.abspath(str(path)))


class _OpsModule(_types.ModuleType):
    """hy.ops: built-in ops as attributes, user-defined ops resolved through the dispatcher."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        fn = getattr(_builtin, name, None)
        if fn is not None:
            return fn
        if name in _C._op_names():
            caller = _functools.partial(_C._call_op, name)
            _functools.update_wrapper(caller, lambda *a, **k: None)
            caller.__name__ = name
            caller.__doc__ = _C._op_info(name)["schema"]
            return caller
        raise AttributeError(f"hyflow.ops has no op named {name!r}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_C._op_names()))


_this = _sys.modules[__name__]
_this.__class__ = _OpsModule
