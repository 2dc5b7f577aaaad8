"""hy.fft exported as ONNX DFT (opset 20) and run with ONNX Runtime, against hyflow eager; complex values
live inside the graph as (real, imag) pairs, so models take and return real tensors (docs/onnx.md)."""
import numpy as np
import pytest

from _ort import export_bytes, ort_run, require

require()

import hyflow as hy  # noqa: E402
import hyflow.onnx  # noqa: E402


def _rand(*shape, seed=0):
    return hy.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _check(fn, *inputs, **export_kwargs):
    got = ort_run(export_bytes(fn, inputs, **export_kwargs), [t.numpy() for t in inputs])
    want = fn(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.numpy().dtype and g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(w.numpy()).max())))


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_real_transforms_match_eager(norm):
    x, x3 = _rand(3, 8), _rand(4, 6, 5, seed=1)
    _check(lambda a: hy.view_as_real(hy.fft.rfft(a, norm=norm)), x)
    _check(lambda a: hy.view_as_real(hy.fft.rfft2(a, norm=norm)), x3)
    _check(lambda a: hy.view_as_real(hy.fft.rfftn(a, dim=(0, 2), norm=norm)), x3)
    _check(lambda a: hy.view_as_real(hy.fft.fft(a, norm=norm)), x)          # real input, full spectrum
    _check(lambda a: hy.fft.irfft(hy.fft.rfft(a), n=8, norm=norm), x)
    _check(lambda a: hy.fft.irfft(hy.fft.rfft(a, n=7), n=7, norm=norm), x)  # odd length
    _check(lambda a: hy.fft.irfft2(hy.fft.rfft2(a), s=(6, 5), norm=norm), x3)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_complex_transforms_match_eager(norm):
    pairs = _rand(5, 4, 2, seed=2)  # a complex (5, 4) input, passed as its (real, imag) pairs
    _check(lambda p: hy.view_as_real(hy.fft.fft(hy.view_as_complex(p), dim=0, norm=norm)), pairs)
    _check(lambda p: hy.view_as_real(hy.fft.ifft2(hy.view_as_complex(p), norm=norm)), pairs)
    _check(lambda p: hy.view_as_real(hy.fft.fftn(hy.view_as_complex(p), norm=norm)), pairs)
    # an arbitrary half spectrum: irfft ignores the imaginary parts of the DC and Nyquist bins
    _check(lambda p: hy.fft.irfft(hy.view_as_complex(p), n=6, norm=norm), pairs)


def test_dynamic_batch_axis():
    fn = lambda a: hy.view_as_real(hy.fft.rfft(a, norm="ortho"))  # noqa: E731
    model = export_bytes(fn, (_rand(3, 16),), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    x = _rand(7, 16, seed=3)
    (got,) = ort_run(model, [x.numpy()])
    np.testing.assert_allclose(got, fn(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn,match", [
    (lambda a: hy.fft.rfft(a), "ONNX models take and return real tensors"),               # complex output
    (lambda a: hy.view_as_real(hy.fft.rfft(a) * 2), "mul: takes a complex tensor"),       # complex elsewhere
])
def test_what_cannot_export_is_refused_clearly(fn, match):
    with pytest.raises(hyflow.onnx.ExportError, match=match):
        export_bytes(fn, (_rand(3, 8),))


def test_complex_model_input_is_refused_clearly():
    with pytest.raises(hyflow.onnx.ExportError, match="ONNX models take and return real tensors"):
        export_bytes(lambda z: hy.view_as_real(hy.fft.fft(z)), (hy.fft.fft(_rand(3, 8)),))


def test_opset_below_20_is_refused():
    with pytest.raises(hyflow.onnx.ExportError, match="opset >= 20"):
        export_bytes(lambda a: hy.view_as_real(hy.fft.rfft(a)), (_rand(3, 8),), opset=18)
