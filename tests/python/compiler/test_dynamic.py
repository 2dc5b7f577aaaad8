"""Symbolic sizes (hy.compile(dynamic=...)): one compile serves many sizes; guards on rank, size-1-ness and
equal sizes; kernels take sizes at run time; specialization where the graph needs fixed values."""
import numpy as np
import pytest

import hyflow as hy
from hyflow import nn
from hyflow.compiler import symbolic
from hyflow.compiler.dynamic_guards import changed_dims, shape_class


def t(*shape, seed=0, dtype=hy.float32):
    return hy.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float64)).to(dtype)


def close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def chain(x, y):
    return (x * y + 1).relu() - x.exp() * 0.5


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(tmp_path))


def test_one_compile_serves_several_batch_sizes():
    f = hy.compile(chain, dynamic=True)
    for b in (64, 32, 100, 7, 2):
        x, y = t(b, 10), t(10, seed=1)
        close(f(x, y), chain(x, y))
    assert f.compiles == 1 and f.recompiles == []
    (entry,) = f.entries()
    assert "meta[" in entry.kernels.source            # sizes are read at run time
    assert entry.constraints == {}


def test_automatic_dynamic_after_a_second_size():
    f = hy.compile(chain)                               # dynamic=None: torch's default
    f(t(8, 10), t(10, seed=1))
    assert f.compiles == 1 and "meta[" not in f.entries()[0].kernels.source
    for b in (9, 30, 3):
        x, y = t(b, 10), t(10, seed=1)
        close(f(x, y), chain(x, y))
    assert f.compiles == 2 and len(f.recompiles) == 1
    assert "sizes (8, 10) -> (9, 10)" in f.recompiles[0] and "symbolic" in f.recompiles[0]
    # Only the dim that changed is symbolic: the feature size stays baked in.
    sym_entry = f.entries()[-1]
    assert [str(d) for d in sym_entry.graph.inputs[0].meta.shape] == ["s0", "10"]


def test_dynamic_false_specializes_every_size():
    f = hy.compile(chain, dynamic=False)
    for b in (4, 5, 6):
        close(f(t(b, 3), t(3)), chain(t(b, 3), t(3)))
    assert f.compiles == 3


def test_rank_change_recompiles():
    f = hy.compile(lambda x: x.sin() * 2 + x, dynamic=True)
    f(t(6, 5))
    f(t(7, 3))
    assert f.compiles == 1
    x = t(2, 3, 4)
    close(f(x), x.sin() * 2 + x)
    assert f.compiles == 2 and "-> (2, 3, 4)" in f.recompiles[0]


def test_size_one_broadcasting_specializes():
    f = hy.compile(lambda x, y: (x + y) * x, dynamic=True)
    for xs, ys in [((5, 4), (5, 4)), ((6, 3), (6, 3))]:
        x, y = t(*xs), t(*ys, seed=2)
        close(f(x, y), (x + y) * x)
    assert f.compiles == 1
    # A dim of size 1 broadcasts: a new shape class (size-1-ness is guarded), results still eager's.
    for xs, ys in [((5, 4), (1, 4)), ((7, 2), (1, 2)), ((1, 4), (5, 4))]:
        x, y = t(*xs), t(*ys, seed=2)
        close(f(x, y), (x + y) * x)
    assert f.compiles == 3


def test_equal_sizes_are_one_symbol():
    key = (None, (("T", "f", "cpu", (8, 8), (8, 1), False, 0), ("T", "f", "cpu", (8, 3), (3, 1), False, 1)),
           (True, None))
    cls, values, dims = shape_class(key)
    assert values == [8, 3] and dims == {0: (("s", 0), ("s", 0)), 1: (("s", 0), ("s", 1))}
    # (8, 8) and (8, 9) are different classes: the compiled code may rely on the equality.
    other = (None, (("T", "f", "cpu", (8, 9), (9, 1), False, 0), key[1][1]), (True, None))
    assert shape_class(other)[0] != cls
    assert changed_dims(key, other) == {(0, 1)}


def test_non_contiguous_input_stays_static():
    f = hy.compile(lambda x: x * 2 + 1, dynamic=True)
    x = t(6, 4).transpose(0, 1)
    close(f(x), x * 2 + 1)
    close(f(t(5, 3)), t(5, 3) * 2 + 1)
    x2 = t(7, 4).transpose(0, 1)
    close(f(x2), x2 * 2 + 1)
    assert f.compiles == 3


def test_row_kernel_with_symbolic_rows_and_row_length():
    def softmax(x):
        e = (x - x.amax(-1, keepdim=True)).exp()
        return e / e.sum(-1, keepdim=True)
    f = hy.compile(softmax, dynamic=True)
    for shape in [(16, 300), (33, 5000), (2, 7), (4, 9000)]:
        x = t(*shape)
        close(f(x), hy.softmax(x, -1))
    assert f.compiles == 1
    (entry,) = f.entries()
    assert any(p.kind == "row-reduction" and p.spec is not None for p in entry.kernels.plans)


def test_layer_norm_rows_float64_dynamic():
    def ln(x, w):
        m = x.mean(-1, keepdim=True)
        v = ((x - m) ** 2).mean(-1, keepdim=True)
        return (x - m) / (v + 1e-5).sqrt() * w
    f = hy.compile(ln, dynamic=True)
    for b in (3, 10):
        x, w = t(b, 40, dtype=hy.float64), t(40, seed=3, dtype=hy.float64)
        close(f(x, w), ln(x, w), rtol=1e-10, atol=1e-12)
    assert f.compiles == 1


def shallow(h, u):
    lap = hy.laplacian(h, grid_dims=2, dx=0.1, boundary="periodic")
    return h + 0.1 * (hy.roll(u, shifts=[1], dims=[0]) - hy.roll(u, shifts=[-2], dims=[1])) + 0.01 * lap


def test_stencil_with_symbolic_grid_size():
    f = hy.compile(shallow, dynamic=True)
    for n, m in ((16, 20), (33, 17), (8, 64), (3, 5)):
        h, u = t(n, m, dtype=hy.float64), t(n, m, seed=1, dtype=hy.float64)
        close(f(h, u), shallow(h, u), rtol=1e-12, atol=1e-12)
    assert f.compiles == 1
    (entry,) = f.entries()
    assert entry.bounds == {0: 3, 1: 5}                 # the offsets read: 1 along dim 0, 2 along dim 1
    assert any(p.kind == "stencil" and p.spec is not None for p in entry.kernels.plans)
    # A grid smaller than the offsets need: that size is specialized by a new trace.
    h, u = t(6, 4, dtype=hy.float64), t(6, 4, seed=1, dtype=hy.float64)
    close(f(h, u), shallow(h, u), rtol=1e-12, atol=1e-12)
    assert f.compiles == 2


@pytest.mark.usefixtures("compiled_backward_always")
def test_compiled_backward_with_symbolic_batch():
    hy.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    compiled = hy.compile(model, dynamic=True)
    for b in (16, 7, 40):
        x = t(b, 20, seed=b)
        compiled(x).tanh().square().mean().backward()
        got = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        model(x).tanh().square().mean().backward()
        for g, p in zip(got, model.parameters()):
            close(g, p.grad)
        model.zero_grad()
    assert compiled._compiled.compiles == 1
    (entry,) = compiled._compiled.entries()
    assert entry.backward_note.startswith("compiled backward") and entry.constraints == {}


def test_backward_numbers_that_are_sizes_specialize():
    # mean's gradient divides by the element count: recorded as a number, so that size is fixed.
    def fn(x, w):
        return (x * w).sin().sum(-1).mean()
    f = hy.compile(fn, dynamic=True)
    w = t(9, seed=1).requires_grad_()
    for b in (3, 11):
        x = t(b, 9).requires_grad_()
        f(x, w).backward()
        gx, gw = x.grad.clone(), w.grad.clone()
        x.grad = w.grad = None
        fn(x, w).backward()
        close(gx, x.grad)
        close(gw, w.grad)
        w.grad = None
    assert f.compiles == 2
    assert all(0 in e.constraints for e in f.entries())


def test_sizes_read_in_python_are_specialized():
    def fn(x):
        return x.view(x.shape[0], -1) * 2 + 1
    f = hy.compile(fn, dynamic=True)
    for b in (4, 6, 4):
        x = t(b, 3, 5)
        close(f(x), fn(x))
    assert f.compiles == 2
    assert all(0 in e.constraints for e in f.entries())


def test_literal_size_argument_specializes():
    f = hy.compile(lambda x: x.reshape(-1, 6) + 1, dynamic=True)
    close(f(t(4, 6)), t(4, 6) + 1)
    close(f(t(7, 6)), t(7, 6) + 1)
    assert f.compiles == 1                      # -1 is derived: the batch stays symbolic
    entry = f.entries()[0]
    assert 1 in entry.constraints               # 6 is a literal of the program: the last dim is fixed
    close(f(t(3, 12)), t(3, 12).reshape(-1, 6) + 1)
    assert f.compiles == 2


def test_explain_shows_symbols_and_dynamic_dims():
    f = hy.compile(chain, dynamic=True)
    x, y = t(12, 10), t(10, seed=1)
    f(x, y)
    text = hy.compiler.explain(f, x, y).format()
    assert "float32[s0, s1]" in text and "symbolic sizes:" in text
    assert "s0 dynamic (traced at 12): %in0 dim 0" in text
    assert "s1 dynamic (traced at 10): %in0 dim 1, %in1 dim 0" in text


def test_recompiles_are_logged_with_reasons(monkeypatch, capsys):
    monkeypatch.setenv("HYFLOW_LOG", "compiler")
    f = hy.compile(lambda x: x.reshape(x.shape[0], -1).cos())
    f(t(4, 2))
    f(t(5, 2))
    err = capsys.readouterr().err
    assert "sizes changed (tensor 0 dim 0): compiling them symbolically" in err
    assert "recompiling (argument leaf 0: sizes (4, 2) -> (5, 2) (compiling with symbolic sizes))" in err
    assert "specialized s0=5 (" in err


def test_disk_cache_key_includes_dynamicness():
    static = hy.compile(chain, dynamic=False)
    dyn = hy.compile(chain, dynamic=True)
    x, y = t(8, 10), t(10, seed=1)
    close(static(x, y), dyn(x, y))
    a, b = static.entries()[0].kernels, dyn.entries()[0].kernels
    assert "meta[" not in a.source and "meta[" in b.source
    assert a.module.path != b.module.path


def test_launcher_checks_runtime_sizes():
    f = hy.compile(chain, dynamic=True)
    x, y = t(8, 10), t(10, seed=1)
    f(x, y)
    plan, kernel = next(iter(f.entries()[0].kernels.kernels.values()))
    sizes = plan.spec.sizes
    out = hy.empty(8, 10)
    kernel.run_with_meta([x, y, out], sizes.meta([8, 10]))
    close(out, chain(x, y))
    with pytest.raises(ValueError, match="must have sizes"):
        kernel.run_with_meta([x, y, out], sizes.meta([9, 10]))
    with pytest.raises(ValueError, match="meta must hold"):
        kernel.run_with_meta([x, y, out], [])


def test_dim_expressions():
    s0, s1 = symbolic.Dim.symbol(0, 4), symbolic.Dim.symbol(1, 6)
    p = s0 * s1 * 2
    assert str(p) == "2*s0*s1" and p.value([3, 5]) == 30 and p.hint == 48
    assert p.divide(s1 * 2) == s0 and p.divide(7) is None
    assert s0 != 4 and s0 * 1 == s0 and 0 * s0 == 0


def test_python_branch_on_a_size_is_guarded():
    def fn(x):
        return x * 2 if x.shape[0] > 5 else x * 3     # Python control flow on a size
    f = hy.compile(fn, dynamic=True)
    for b in (8, 4, 9, 2):
        x = t(b, 3)
        close(f(x), fn(x))
    entry = f.entries()[0]
    assert entry.symbolic.specialized[0][1] == "its sizes were read in Python"
