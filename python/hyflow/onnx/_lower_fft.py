"""The FFT ops as ONNX DFT (opset 20: the axis is an input), and the views that join them to real tensors.

ONNX has no complex tensors in practice (ONNX Runtime's kernels take none), but its DFT reads and writes
complex values as a trailing (real, imag) pair dim. So inside an exported graph a complex hyflow value IS
that pair tensor: exactly what ``hy.view_as_real`` shows, which makes view_as_real / view_as_complex
Identities. Only these ops may take a complex value (the exporter refuses any other, and complex model
inputs and outputs: _export._check_nodes), so no other lowering ever sees a pair tensor.

Scaling: DFT's inverse divides by the signal size, hyflow's `normalization` (0: none, 1: 1/sqrt(n), 2: 1/n,
n the product of the transformed sizes) applies to whichever direction it is given; one multiplication
by a factor computed from the run-time shape (dynamic axes included) reconciles the two."""
import hyflow as hy

from ._lower import FORMS, NOTES, lowering, norm_dim

COMPLEX_INPUT_OPS = {"_fft_c2c", "_fft_c2r", "view_as_real"}  # lowerings that read a complex value as pairs

FORMS.update({
    "view_as_real": "Identity (a complex value is exported as its (real, imag) pairs)",
    "view_as_complex": "Identity (as view_as_real)",
})
NOTES.update({
    "_fft_c2c": "one DFT per dim; complex values as (real, imag) pairs",
    "_fft_r2c": "Unsqueeze to a 1-wide pair dim, DFT (onesided) on the last dim, then one DFT per other dim",
    "_fft_c2r": "inverse DFTs on the other dims, the Hermitian half mirrored (Slice step -1, conj) and "
                "Concat'ed, inverse DFT, real part",
})


def _dft(cx, x, axis, inverse=False, onesided=False):
    return cx.b.node("DFT", [x, "", cx.b.const(int(axis), hy.int64)], inverse=int(inverse), onesided=int(onesided))


def _signal_size(cx, x, axes, dtype):
    """The product of x's sizes along ``axes``, at run time, as a 0-d tensor of ``dtype``."""
    b = cx.b
    sizes = b.node("Gather", [b.node("Shape", [x]), b.ints(axes)], axis=0)
    return b.cast(b.node("ReduceProd", [sizes], keepdims=0), hy.int64, dtype)


def _scaled(cx, y, factor_kind, n, dtype):
    """y times n**power: power 0 (nothing), 0.5 or +-1, +-0.5 as ``factor_kind`` says."""
    b = cx.b
    if factor_kind == 0:
        return y
    root = b.node("Sqrt", [n]) if abs(factor_kind) == 0.5 else n
    return b.node("Mul" if factor_kind > 0 else "Div", [y, root])


def _real_dtype(value):
    return hy.float64 if str(value.meta.dtype) in ("hyflow.complex128", "hyflow.float64") else hy.float32


def _check_normalization(cx, node):
    norm = node.arg("normalization")
    if norm not in (0, 1, 2):
        raise cx.Unsupported(f"normalization {norm} (0, 1 or 2)")
    return norm


@lowering("_fft_c2c")
def _fft_c2c(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    dims = [norm_dim(d, nd) for d in node.arg("dim")]
    norm, forward = _check_normalization(cx, node), bool(node.arg("forward"))
    y = cx.name(x)
    for d in dims:
        y = _dft(cx, y, d, inverse=not forward)
    n = _signal_size(cx, y, dims, _real_dtype(x))
    # forward: DFT is unscaled, hyflow wants n^0, n^-1/2, n^-1; inverse: DFT gave n^-1, hyflow wants the same
    power = {0: 0, 1: -0.5, 2: -1}[norm] if forward else {0: 1, 1: 0.5, 2: 0}[norm]
    return [_scaled(cx, y, power, n, _real_dtype(x))]


@lowering("_fft_r2c")
def _fft_r2c(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    dims = [norm_dim(d, nd) for d in node.arg("dim")]
    norm = _check_normalization(cx, node)
    b = cx.b
    real = cx.name(x)
    y = _dft(cx, b.node("Unsqueeze", [real, b.ints([-1])]), dims[-1], onesided=bool(node.arg("onesided")))
    for d in dims[:-1]:
        y = _dft(cx, y, d)
    dtype = _real_dtype(x)
    n = _signal_size(cx, real, dims, dtype)
    return [_scaled(cx, y, {0: 0, 1: -0.5, 2: -1}[norm], n, dtype)]


@lowering("_fft_c2r")
def _fft_c2r(cx, node):
    x = node.arg("self")
    nd = len(x.meta.shape)
    dims = [norm_dim(d, nd) for d in node.arg("dim")]
    norm, n_last = _check_normalization(cx, node), int(node.arg("last_dim_size"))
    last = dims[-1]
    b = cx.b
    y = cx.name(x)
    for d in dims[:-1]:
        y = _dft(cx, y, d, inverse=True)
    # The Hermitian extension along `last`: bins n_last-h .. 1 (h = n_last//2 + 1 given), conjugated.
    h = n_last // 2 + 1
    mirrored = b.node("Slice", [y, b.ints([n_last - h]), b.ints([0]), b.ints([last]), b.ints([-1])])
    dtype = _real_dtype(x)
    conj = b.node("Mul", [mirrored, b.const([1.0, -1.0], dtype)])
    full = b.node("Concat", [y, conj], axis=last)
    z = _dft(cx, full, last, inverse=True)
    real = b.node("Squeeze", [b.node("Slice", [z, b.ints([0]), b.ints([1]), b.ints([-1])]), b.ints([-1])])
    n = _signal_size(cx, real, dims, dtype)
    return [_scaled(cx, real, {0: 1, 1: 0.5, 2: 0}[norm], n, dtype)]


@lowering("view_as_real", "view_as_complex", composite=True)
def _pairs_identity(cx, node):
    return [cx.b.node("Identity", [cx.name(node.arg("self"))])]
