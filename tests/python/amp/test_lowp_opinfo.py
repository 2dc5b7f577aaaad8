"""Every op of the OpInfo table (tests/python/opinfo/) that lists float16/bfloat16 runs its samples in both
16-bit dtypes and is compared with hyflow's own float32 result on the same values, rounded once to the
16-bit dtype: the low-precision kernels compute in float32 and round once, so the two agree up to the
float32 computation itself (vectorized vs scalar tails, threads' summation order).

Tolerances per family (docs/amp.md, "Testing"): elementwise families one unit in the last place of the
16-bit type (relative 2**-7 for bf16, 2**-10 for fp16; absolute its smallest subnormal), reductions and
the rest two. Non-floating results (comparisons, indices) must match exactly.

The second test runs the same samples inside ``hy.autocast`` and checks each op's declared policy
(``hy.ops.autocast_spec``): the result's dtype, and its values against the same op called outside the
region on inputs cast as the policy says (the same kernels, so exactly equal).
"""
import importlib
import pkgutil

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

import opinfo

LOWP = ("bfloat16", "float16")
ULP = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}
SMALLEST_SUBNORMAL = {"bfloat16": 2.0 ** -133, "float16": 2.0 ** -24}
ELEMENTWISE_FAMILIES = {"unary", "binary", "ternary", "compare"}
# Ops that add repeated indices into a 16-bit tensor round after each addition, in the tensor's dtype (as
# PyTorch's CPU kernels do), so they differ from one rounding of a float32 sum by up to a few ulps of the
# largest partial sum: absolute tolerance 4 ulps of the result's largest magnitude.
ACCUMULATE_IN_DTYPE = {"scatter_add", "index_put_", "index_add", "index_add_"}
# Families whose samples draw random numbers or whose results are not a function of the inputs' values.
SKIP_FAMILIES = {"random"}


def _ops_by_family():
    for mod in pkgutil.iter_modules(opinfo.__path__):
        if mod.name in SKIP_FAMILIES:
            continue
        for info in importlib.import_module(f"opinfo.{mod.name}").OPS:
            yield mod.name, info


CASES = [pytest.param(fam, info, dt, id=f"{info.name}-{dt}")
         for fam, info in _ops_by_family() for dt in LOWP if dt in info.dtypes]


def _is_float_array(x, dtype):
    # The sample builder makes float16 inputs as float16 arrays and bfloat16 inputs as float32 arrays
    # holding bf16-exact values (opinfo.rand_array).
    return isinstance(x, np.ndarray) and x.dtype == opinfo.np_dtype(dtype)


def _convert(x, dtype, hy_dtype):
    """Sample argument -> hyflow argument, float arrays as hy_dtype (None: as the sample made them)."""
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [_convert(v, dtype, hy_dtype) for v in x]
    if not isinstance(x, np.ndarray):
        return x
    t = hy.from_numpy(x.copy())  # a copy: in-place ops (index_put_) must not change the sample
    if _is_float_array(x, dtype):
        return t.to(getattr(hy, hy_dtype or dtype))
    return t


def _args(sample, dtype, hy_dtype=None):
    return [_convert(a, dtype, hy_dtype) for a in sample.args]


def _results(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _samples(info, dtype):
    return list(info.samples(dtype, np.random.default_rng(1234)))


@pytest.mark.parametrize("family,info,dtype", CASES)
def test_lowp_matches_rounded_float32(family, info, dtype):
    fn = getattr(hy.ops, info.name)
    ulps = 1 if family in ELEMENTWISE_FAMILIES else 2
    low_dtype = getattr(hy, dtype)
    for sample in _samples(info, dtype):
        got = _results(fn(*_args(sample, dtype), **sample.kwargs))
        want = _results(fn(*_args(sample, dtype, "float32"), **sample.kwargs))
        for g, w in zip(got, want):
            if not isinstance(g, hy.Tensor):
                assert g == w or (g != g and w != w), f"{info.name} {sample.desc}: {g} vs {w}"
                continue
            msg = f"{info.name} {sample.desc} ({family})"
            if g.dtype == low_dtype and w.dtype == hy.float32:
                atol = SMALLEST_SUBNORMAL[dtype]
                if info.name in ACCUMULATE_IN_DTYPE and w.numel() > 0:
                    atol = 4 * ULP[dtype] * float(w.abs().max())
                assert_close(g, w.to(low_dtype), rtol=ulps * ULP[dtype], atol=atol, msg=msg)
            elif g.dtype in (hy.float16, hy.bfloat16, hy.float32):
                assert_close(g.to(hy.float32), w.to(hy.float32), rtol=ulps * ULP[dtype],
                             atol=SMALLEST_SUBNORMAL[dtype], check_dtype=False, msg=msg)
            else:
                assert g.dtype == w.dtype, msg
                assert_close(g, w, rtol=0, atol=0, msg=msg)


def _policy_target(spec, region_dtype, arg_dtype):
    """The dtype autocast gives a floating tensor input of arg_dtype (one-input view of the policy)."""
    policy = spec["policy"]
    if policy == "lower":
        return arg_dtype if arg_dtype == hy.float64 else getattr(hy, spec["dtype"] or region_dtype)
    if policy == "fp32":
        return hy.float32 if arg_dtype in (hy.float16, hy.bfloat16) else arg_dtype
    return arg_dtype  # promote (all inputs share a dtype here) and none


def _cast_floats(a, src_dtype, target):
    if isinstance(a, list):
        return [_cast_floats(v, src_dtype, target) for v in a]
    if isinstance(a, hy.Tensor) and a.dtype == src_dtype and target != src_dtype:
        return a.to(target)
    return a


def _assert_same(got, want, msg):
    assert got.dtype == want.dtype, f"{msg}: dtype {got.dtype}, policy says {want.dtype}"
    if want.dtype.is_floating_point:
        assert_close(got, want, rtol=0, atol=0, msg=msg)
    else:
        assert_close(got, want, msg=msg)


AUTOCAST_CASES = [pytest.param(fam, info, dt, src, id=f"{info.name}-{dt}-from-{src}")
                  for fam, info in _ops_by_family() for dt in LOWP if dt in info.dtypes
                  for src in (dt, "float32") if src in info.dtypes]


@pytest.mark.parametrize("family,info,region,src", AUTOCAST_CASES)
def test_autocast_policy_over_samples(family, info, region, src):
    """Inside hy.autocast(dtype=region), inputs of dtype src are cast as the op's policy says."""
    fn = getattr(hy.ops, info.name)
    spec = hy.ops.autocast_spec(info.name)
    src_dtype = getattr(hy, src)
    target = _policy_target(spec, region, src_dtype)
    for sample in _samples(info, src):
        args = _args(sample, src)
        with hy.autocast(dtype=getattr(hy, region)):
            got = _results(fn(*args, **sample.kwargs))
        # The same tensors (cast where the policy casts): a reduction's float32 summation order may depend
        # on its input's address alignment, so fresh copies could differ in the last bit. In-place ops
        # changed `args`, so they get fresh ones.
        if info.name.endswith("_"):
            args = _args(sample, src)
        want = _results(fn(*[_cast_floats(a, src_dtype, target) for a in args], **sample.kwargs))
        for g, w in zip(got, want):
            if isinstance(g, hy.Tensor):
                _assert_same(g, w, f"{info.name} {sample.desc} under autocast({region}), "
                                   f"policy {spec['policy']}, inputs {src}")
