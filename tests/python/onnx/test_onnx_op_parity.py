"""Parity over the op table: every op that exports (an `onnx` mapping in csrc/ops/table, or a composite in
hyflow/onnx/_lower.py) is exported as a one-op model from each OpInfo sample (tests/python/opinfo) and run
with ONNX Runtime; dtype, shape and values must equal hyflow eager (within the op's tolerance).

Cases ONNX Runtime cannot run (its CPU kernels lack a dtype: no bfloat16 Add, no int32 Sqrt ...) are
skipped with the reason recorded; the summary is printed at the end of the module (pytest -s, or -rs)."""
import importlib
import pkgutil

import numpy as np
import pytest

from _ort import require, export_bytes, ort_run

require()

import hyflow as hy  # noqa: E402
from hyflow.onnx import _lower  # noqa: E402
from hyflow.testing import assert_close, default_tolerances  # noqa: E402

import opinfo  # noqa: E402
from test_ops import to_hy  # noqa: E402

OPS = []
for _mod in pkgutil.iter_modules(opinfo.__path__):
    OPS.extend(importlib.import_module(f"opinfo.{_mod.name}").OPS)

RANDOM = {"multinomial", "rand", "randn"}           # values differ by design: dtype and shape only
# NumPy has no bfloat16 to feed ORT: bfloat16 cases take float32 inputs (exact copies) that the exported
# function casts to bfloat16 first, and cast bfloat16 results back to float32 last.
BF16 = "bfloat16"

CASES = [pytest.param(info, dt, id=f"{info.name}-{dt}") for info in OPS if _lower.supported(info.name)
         for dt in info.dtypes]
SKIPPED = {}
# ONNX Runtime's CumSum adds sequentially; hyflow's kernel sums chunks: over 10^5 float32 elements the
# rounding differs by a few ulps of the running total.
TOL = {("cumsum", "float32"): (1e-4, 1e-2)}


def _flat(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _tensor_leaves(args):
    out = []
    for a in args:
        if isinstance(a, hy.Tensor):
            out.append(a)
        elif isinstance(a, list):
            out.extend(x for x in a if isinstance(x, hy.Tensor))
    seen, uniq = set(), []
    for t in out:
        if id(t) not in seen:
            seen.add(id(t))
            uniq.append(t)
    return uniq


def _ort_unsupported(err):
    text = str(err)
    return ("NOT_IMPLEMENTED" in text or "Could not find an implementation" in text
            or "not supported" in text.lower() or "Type Error" in text or "type error" in text.lower())


@pytest.mark.parametrize("info,dtype", CASES)
def test_exported_single_op_matches_eager(info, dtype):
    rng = np.random.default_rng(1234)
    fn = getattr(hy.ops, info.name)
    ran = 0
    for sample in info.samples(dtype, rng):
        args = [to_hy(a, dtype) for a in sample.args]
        kwargs = dict(sample.kwargs)
        try:
            expected = _flat(fn(*args, **kwargs))
        except (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError):
            continue  # eager refuses the sample: nothing to export
        leaves = _tensor_leaves(args)
        if any(not t.is_contiguous() for t in leaves):
            leaves = leaves  # layout does not matter to ONNX: values are fed densely
        what = f"{info.name}({sample.desc or 'sample'}) {dtype}"

        bf16 = dtype == BF16

        def one_op(*tensors, _args=args, _leaves=leaves, _bf16=bf16):
            if _bf16:
                tensors = [t.to(hy.bfloat16) if t.dtype == hy.float32 else t for t in tensors]
            swap = {id(t): n for t, n in zip(_leaves, tensors)}
            call = [swap.get(id(a), a) if isinstance(a, hy.Tensor) else
                    ([swap.get(id(x), x) for x in a] if isinstance(a, list) else a) for a in _args]
            out = fn(*call, **kwargs)
            if _bf16:
                flat = [o.to(hy.float32) if o.dtype == hy.bfloat16 else o for o in _flat(out)]
                return tuple(flat) if isinstance(out, (tuple, list)) else flat[0]
            return out

        feed_leaves = [t.to(hy.float32) if bf16 and t.dtype == hy.bfloat16 else t for t in leaves]
        if bf16:
            expected = [e.to(hy.float32) if e.dtype == hy.bfloat16 else e for e in expected]
        try:
            model = export_bytes(one_op, tuple(feed_leaves))
        except hy.onnx.ExportError as err:
            # a lowering may refuse particular arguments; that must be said, never a wrong model
            assert "ONNX checker" not in err.problems[0][0], f"{what}: {err}"
            SKIPPED.setdefault(f"{info.name}-{dtype}", f"export refused: {err.problems[0][0]}")
            continue
        try:
            got = ort_run(model, [np.array(t.numpy(), order="C") for t in feed_leaves])
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception types
            if _ort_unsupported(err):
                SKIPPED.setdefault(f"{info.name}-{dtype}", "ORT: " + str(err).splitlines()[0][:160])
                continue
            raise AssertionError(f"{what}: ONNX Runtime failed: {err}") from err
        ran += 1
        assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            g = hy.from_numpy(np.array(g, order="C"))
            assert str(g.dtype) == str(e.dtype), f"{what} output {i}: dtype {g.dtype} != {e.dtype}"
            assert tuple(g.shape) == tuple(e.shape), f"{what} output {i}: shape {tuple(g.shape)} != {tuple(e.shape)}"
            if info.name in RANDOM:
                continue
            if not e.dtype.is_floating_point:
                np.testing.assert_array_equal(g.numpy(), e.numpy(), err_msg=what)
            else:
                tol = TOL.get((info.name, dtype)) or (info.tol or {}).get(
                    dtype, default_tolerances(hy.bfloat16 if bf16 else e.dtype))
                rtol, atol = tol
                assert_close(g.to(hy.float64), e.to(hy.float64).numpy(), rtol=max(rtol, 1e-5), atol=max(atol, 1e-6),
                             msg=what)
    if ran == 0:
        pytest.skip(SKIPPED.get(f"{info.name}-{dtype}", "no sample ran"))


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    if SKIPPED:
        print(f"\nONNX parity: {len(SKIPPED)} op/dtype cases skipped:")
        for case, why in sorted(SKIPPED.items()):
            print(f"  {case}: {why}")
