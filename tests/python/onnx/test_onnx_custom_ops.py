"""hy.onnx.custom_op: a hyflow op ONNX lacks (a stencil) exported as a custom-domain node and run inside
ONNX Runtime by hyflow's own kernel through onnxruntime-extensions."""
import numpy as np
import pytest

from _ort import require, export_bytes

require()
try:
    import onnxruntime_extensions  # noqa: F401
except ImportError:
    pytest.skip("needs onnxruntime-extensions: pip install onnxruntime-extensions", allow_module_level=True)

import onnx  # noqa: E402

import hyflow as hy  # noqa: E402
import hyflow.onnx  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _unregister():
    yield
    for name in ("laplacian", "onnx_test_cube"):
        hy.onnx.remove_custom_op(name)


def test_stencil_op_runs_in_ort_with_hyflow_kernel():
    hy.onnx.custom_op("laplacian")

    def fn(u):
        return hy.ops.laplacian(u * 2.0, 2, 0.5, boundary="periodic").tanh()

    for dtype in (hy.float32, hy.float64):
        u = hy.randn(12, 10, dtype=dtype)
        data = export_bytes(fn, (u,), input_names=["u"])
        model = onnx.load_from_string(data)
        kinds = {(n.domain, n.op_type) for n in model.graph.node}
        assert ("ai.onnx.contrib", f"hyflow_laplacian_{str(dtype).replace('hyflow.', '')}") in kinds
        sess = hy.onnx.InferenceSession(data)  # sees the custom domain: registers the extensions library
        np.testing.assert_allclose(sess(u).numpy(), fn(u).numpy(), rtol=1e-6, atol=1e-6)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for n in model.graph.node
                 if n.domain == "ai.onnx.contrib" for a in n.attribute}
        assert attrs["grid_dims"] == 2 and attrs["dx"] == 0.5 and attrs["boundary"] == b"periodic"


def test_user_defined_op_as_custom_node():
    hy.ops.define("onnx_test_cube(Tensor x, float scale) -> Tensor")

    @hy.ops.impl("onnx_test_cube", "cpu")
    def _cube(x, scale):
        return x * x * x * scale

    u = hy.randn(5)
    with pytest.raises(hy.onnx.ExportError, match="user-defined"):
        export_bytes(lambda t: hy.ops.onnx_test_cube(t, 2.0), (u,))
    hy.onnx.custom_op("onnx_test_cube", dtypes=("float32",))
    data = export_bytes(lambda t: hy.ops.onnx_test_cube(t, 2.0) + 1, (u,))
    np.testing.assert_allclose(hy.onnx.InferenceSession(data)(u).numpy(), (u * u * u * 2.0 + 1).numpy(), rtol=1e-6)
    with pytest.raises(hy.onnx.ExportError, match="dtype"):
        export_bytes(lambda t: hy.ops.onnx_test_cube(t, 2.0), (u.double(),))


def test_removed_custom_op_is_unsupported_again():
    hy.onnx.custom_op("laplacian")
    export_bytes(lambda t: hy.ops.laplacian(t, 1), (hy.randn(6),))
    hy.onnx.remove_custom_op("laplacian")
    with pytest.raises(hy.onnx.ExportError, match="laplacian: no ONNX mapping"):
        export_bytes(lambda t: hy.ops.laplacian(t, 1), (hy.randn(6),))


def test_custom_op_bad_arguments():
    with pytest.raises(ValueError, match="no op named"):
        hy.onnx.custom_op("no_such_op_xyz")
    with pytest.raises(ValueError, match="cannot be an ONNX attribute"):
        hy.onnx.custom_op("pad")  # int[] pad
    with pytest.raises(ValueError, match="dtype"):
        hy.onnx.custom_op("laplacian", dtypes=("int32",))


def test_user_op_exported_as_onnx_function():
    hy.ops.define("onnx_test_smooth(Tensor x, Tensor w, float k) -> Tensor")

    @hy.ops.impl("onnx_test_smooth", "cpu")
    def _smooth(x, w, k):
        return (x * k).tanh() * w + 1.0

    w = hy.randn(6)
    hy.onnx.onnx_function("onnx_test_smooth", lambda x, w, k: (x * k).tanh() * w + 1.0)
    try:
        def fn(x):
            return hy.ops.onnx_test_smooth(x, w, 0.5) + hy.ops.onnx_test_smooth(x.square(), w, 0.5) \
                + hy.ops.onnx_test_smooth(x, w, 2.0)
        x = hy.randn(4, 6)
        data = export_bytes(fn, (x,))
        model = onnx.load_from_string(data)
        assert sorted(f.name for f in model.functions) == ["onnx_test_smooth", "onnx_test_smooth_1"]
        calls = [n for n in model.graph.node if n.domain == "hyflow.functions"]
        assert len(calls) == 3  # the k=0.5 calls share one function
        import onnxruntime as ort
        got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input_0": x.numpy()})[0]
        np.testing.assert_allclose(got, fn(x).numpy(), rtol=1e-5, atol=1e-6)
        # a function body that cannot be exported is reported as the op's problem
        hy.onnx.onnx_function("onnx_test_smooth", lambda x, w, k: hy.ops.laplacian(x, 1) * w)
        with pytest.raises(hy.onnx.ExportError, match="onnx_test_smooth: its ONNX function cannot be exported"):
            export_bytes(lambda t: hy.ops.onnx_test_smooth(t, w, 1.0), (hy.randn(6),))
    finally:
        hy.onnx.remove_onnx_function("onnx_test_smooth")
    with pytest.raises(hy.onnx.ExportError, match="user-defined"):
        export_bytes(lambda t: hy.ops.onnx_test_smooth(t, w, 1.0), (hy.randn(6),))
    with pytest.raises(TypeError, match="callable"):
        hy.onnx.onnx_function("onnx_test_smooth", 3)
