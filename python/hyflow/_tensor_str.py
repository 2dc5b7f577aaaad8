"""How tensors print: the same layout as PyTorch, so results read the same in both.

    >>> hy.tensor([[1., 2.], [3., 4.]])
    tensor([[1., 2.],
            [3., 4.]])
    >>> hy.arange(5, dtype=hy.int32)
    tensor([0, 1, 2, 3, 4], dtype=hyflow.int32)

Values are formatted column-aligned with one format for the whole tensor (integers-valued floats as
``1.``, otherwise 4 decimals, scientific notation for wide ranges); tensors of more than ``threshold``
elements show ``edgeitems`` rows/columns at each end around ``...``. float16 and bfloat16 print via
float32. The dtype is named unless it is a default one (hy.get_default_dtype(), int64, bool).
"""
import math
from dataclasses import dataclass

import numpy as np

from . import _C

__all__ = ["set_printoptions"]


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: object = None  # None: decided per tensor; True/False: forced


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Like torch.set_printoptions: ``profile`` is "default", "short" or "full"; the other arguments
    override single settings. ``sci_mode`` True/False forces scientific notation on/off, None chooses."""
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
    elif profile is not None:
        raise ValueError(f"set_printoptions: unknown profile {profile!r} (expected 'default', 'short' or 'full')")
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """One number format for a whole tensor, chosen from its (summarized) values."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            self._finish()
            return
        absvals = np.abs(finite)
        lo, hi = float(absvals.min()), float(absvals.max())
        items = finite.tolist()
        p = PRINT_OPTS.precision
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                widths = (len(f"{v:.{p}e}") for v in items)
            else:
                widths = (len(f"{v:.0f}") + 1 for v in items)
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            widths = (len(f"{v:.{p}e}") for v in items)
        else:
            widths = (len(f"{v:.{p}f}") for v in items)
        self.max_width = max(self.max_width, max(widths))
        self._finish()

    def _finish(self):
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def width(self):
        return self.max_width

    def format(self, value):
        p = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                s = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    s += "."
            else:
                s = f"{value:.{p}f}"
        else:
            s = str(value)
        return (self.max_width - len(s)) * " " + s


class _ComplexFormatter:
    """torch's complex layout: the real parts in one column format, then the sign and the imaginary
    parts in another, then ``j`` (``1.0000+2.5000j``)."""

    def __init__(self, arr):
        self.re = _Formatter(arr.real, True)
        self.im = _Formatter(arr.imag, True)

    def width(self):
        return self.re.width() + self.im.width() + 1

    def format(self, value):
        im = self.im.format(value.imag).lstrip() + "j"
        return self.re.format(value.real) + ("" if im[0] in "+-" else "+") + im


def _summarized(arr):
    """Only the elements that will be shown: edgeitems at each end of every dim."""
    e = PRINT_OPTS.edgeitems
    for axis in range(arr.ndim):
        if arr.shape[axis] > 2 * e:
            idx = list(range(e)) + list(range(arr.shape[axis] - e, arr.shape[axis]))
            arr = np.take(arr, idx, axis=axis)
    return arr


def _vector_str(arr, indent, summarize, fmt):
    element_length = fmt.width() + 2
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    e = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * e:
        data = [fmt.format(v) for v in arr[:e].tolist()] + [" ..."] + [fmt.format(v) for v in arr[-e:].tolist()]
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(arr, indent, summarize, fmt):
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * e:
        rows = ([_array_str(arr[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                + [_array_str(arr[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        rows = [_array_str(arr[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _as_numpy(t):
    t = t.detach()  # printing reads values only; numpy() refuses tensors that require grad
    if t.device != "cpu":
        t = t.to("cpu")  # device values are printed from a host copy (the suffix still names the device)
    if t.dtype in (_C.float16, _C.bfloat16):
        t = t.to(_C.float32)
    return np.asarray(t.numpy())


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _default_dtypes():
    """The dtypes a repr leaves unnamed, as torch: the default float and complex dtypes (hy.set_default_dtype),
    int64 and bool."""
    f = _C.get_default_dtype().name
    return (f, "int64", "bool", "complex128" if f == "float64" else "complex64")


def tensor_repr(t):
    """``tensor([...])`` text of ``t``, laid out like torch.Tensor.__repr__."""
    # Printing shows data: code traced by hy.compile that prints a tensor cannot be replayed as a graph.
    _C._compiler._break_graph("a tensor's value read in Python (printed)")
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device != "cpu":
        suffixes.append(f"device='{t.device}'")
    if t.numel() == 0:
        if t.dim() != 1:
            suffixes.append("size=" + str(tuple(t.shape)))
        body = "[]"
    else:
        arr = _as_numpy(t)
        summarize = arr.size > PRINT_OPTS.threshold
        shown = _summarized(arr) if summarize else arr
        fmt = _ComplexFormatter(shown) if t.dtype.is_complex else _Formatter(shown, t.is_floating_point())
        body = _array_str(arr, indent, summarize, fmt)
    if t.dtype.name not in _default_dtypes():
        suffixes.append(f"dtype={t.dtype!r}")
    # Autograd state, once the autograd layer gives tensors these attributes.
    grad_fn = getattr(t, "grad_fn", None)
    if grad_fn is not None:
        name = getattr(grad_fn, "name", None)
        name = name() if callable(name) else name
        suffixes.append(f"grad_fn=<{name or type(grad_fn).__name__}>")
    elif getattr(t, "requires_grad", False):
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


def _install():
    _C.Tensor.__repr__ = tensor_repr
    _C.Tensor.__str__ = tensor_repr


_install()
