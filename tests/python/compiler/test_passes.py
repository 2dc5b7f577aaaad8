"""Each graph pass on its own, on graphs traced from small functions; replay checks values are unchanged."""
import math

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import Program, trace
from hyflow.compiler.passes import (eliminate_common_subexpressions, eliminate_dead_code, fold_constants,
                                    partition_fusion_groups, simplify_algebra)


def t(*shape, seed=0, dtype=hy.float32):
    return hy.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).to(dtype)


def graph_of(fn, *args):
    return trace(fn, args, {}).graph


def ops_of(g):
    return [n.op for n in g.nodes]


def replay(g, *args):
    return Program(g).run(list(args))


# ---- dead-code elimination

def test_dce_removes_unused_pure_nodes():
    def f(x):
        unused = x.exp() * 2  # noqa: F841
        return x + 1
    g = eliminate_dead_code(graph_of(f, t(3)))
    assert ops_of(g) == ["add"]
    assert all(not v.is_literal_number() or v.tensor.item() == 1 for v in g.captured)


def test_dce_keeps_writes_and_random_draws():
    def f(x, buf):
        buf.add_(x)          # writes an input
        hy.rand(3)           # unused, but removing it would change later draws
        (x * 2).mul_(3)      # writes a temporary: kept (declared write), harmless
        return x + 1
    g = eliminate_dead_code(graph_of(f, t(3), hy.zeros(3)))
    assert ops_of(g) == ["add", "rand", "mul", "mul", "add"]


# ---- common-subexpression elimination

def test_cse_merges_repeated_pure_calls():
    def f(x, y):
        return (x * y).exp() + (x * y).exp()
    x, y = t(3), t(3, seed=1)
    g = eliminate_dead_code(eliminate_common_subexpressions(graph_of(f, x, y)))
    assert ops_of(g) == ["mul", "exp", "add"]
    np.testing.assert_allclose(replay(g, x, y).numpy(), f(x, y).numpy())


def test_cse_respects_writes_and_different_arguments():
    def f(x):
        a = x.sum()
        x.add_(1)
        b = x.sum()
        return a, b, x.sum(0), x.sum(dim=0, keepdim=True)
    x = t(3, 2)
    g = eliminate_dead_code(eliminate_common_subexpressions(graph_of(f, x.clone())))
    assert sum(n.lowering == "reduction" for n in g.nodes) == 4
    x2 = x.clone()
    a, b, _, _ = replay(g, x2)
    assert math.isclose(b.item() - a.item(), 6.0, rel_tol=1e-5)


def test_cse_never_merges_random_ops_or_returned_values():
    g = eliminate_common_subexpressions(graph_of(lambda x: (x + hy.rand(3), x + hy.rand(3)), hy.zeros(3)))
    a, b = replay(g, hy.zeros(3))
    assert a.tolist() != b.tolist()
    g = eliminate_common_subexpressions(graph_of(lambda x: (x + 1, x + 1), t(3)))
    a, b = replay(g, t(3))
    assert a is not b


# ---- constant folding

def test_constant_folding_of_creations_and_numbers():
    def f(x):
        scale = hy.full((3,), 2.0) * 3 + 1  # all constants: one tensor at compile time
        return x * scale
    x = t(3)
    g = eliminate_dead_code(fold_constants(graph_of(f, x)))
    assert ops_of(g) == ["mul"]
    (const,) = [v for v in g.captured if v.kind == "constant"]
    assert const.tensor.tolist() == [7.0] * 3
    np.testing.assert_allclose(replay(g, x).numpy(), (x * 7).numpy())


def test_constant_folding_skips_written_returned_and_random():
    def f(x):
        acc = hy.zeros(3)
        acc.add_(x)                      # written: must be fresh each call
        return acc, hy.ones(2) * 2, hy.rand(2) * 1
    g = fold_constants(graph_of(f, t(3)))
    # ones(2) is folded (only read); the product is returned, so it stays a node: a new tensor per call
    assert ops_of(g) == ["zeros", "add", "mul", "rand", "mul"]
    assert g.nodes[2].args[0].kind == "constant"
    x = t(3, seed=2)
    acc1, _, _ = replay(g, x)
    acc2, _, _ = replay(g, x)
    assert acc1 is not acc2 and acc1.tolist() == acc2.tolist() == x.tolist()


# ---- algebraic simplification

@pytest.mark.parametrize("fn,left", [
    (lambda x: (x * 1).exp(), ["exp"]),
    (lambda x: (1 * x).exp(), ["exp"]),
    (lambda x: (x / 1).exp(), ["exp"]),
    (lambda x: (x - 0).exp(), ["exp"]),
    (lambda x: (-(-x)).exp(), ["exp"]),
    (lambda x: (x + (-0.0)).exp(), ["exp"]),
    (lambda x: (x + 0).exp(), ["add", "exp"]),      # -0.0 + 0 is +0.0: not exact in floating point
    (lambda x: (x * 0).exp(), ["mul", "exp"]),      # NaN * 0 is NaN: not exact
    (lambda x: (x * 2).exp(), ["mul", "exp"]),
    (lambda x: x * 1, ["mul"]),                     # a returned result stays a new tensor
])
def test_simplify_float(fn, left):
    x = hy.tensor([-0.0, float("nan"), float("inf"), 1.5])
    g = eliminate_dead_code(simplify_algebra(graph_of(fn, x)))
    assert ops_of(g) == left
    got, want = replay(g, x).numpy(), fn(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)  # NaN == NaN here
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # and -0.0 stays -0.0


def test_simplify_integer_add_zero_and_dtype_changes():
    xi = hy.tensor([1, -2, 3], dtype=hy.int32)
    g = eliminate_dead_code(simplify_algebra(graph_of(lambda x: (x + 0).neg(), xi)))
    assert ops_of(g) == ["neg"]
    # int32 * 1.0 is float32: not the same value as x
    g = eliminate_dead_code(simplify_algebra(graph_of(lambda x: (x * 1.0).neg(), xi)))
    assert ops_of(g) == ["mul", "neg"]
    # broadcasting against a ones tensor changes the shape: kept
    g = eliminate_dead_code(simplify_algebra(graph_of(lambda x: (x * hy.ones(2, 1)).neg(), t(3))))
    assert "mul" in ops_of(g)


def test_simplify_leaves_written_values_alone():
    def f(x):
        y = x * 1
        y.add_(1)            # x must not change
        return y.exp()
    x = t(3)
    g = eliminate_dead_code(simplify_algebra(graph_of(f, x.clone())))
    x2 = x.clone()
    replay(g, x2)
    assert x2.tolist() == x.tolist()


def test_simplify_folds_view_chains_that_compose_to_the_identity():
    # A compiled backward hands a weight gradient back as permute(transpose(mm(...))): two replay steps
    # that give back the product's own layout.
    a, b = t(3, 4), t(4, 5, seed=1)
    for chain in (lambda p: p.t().permute(1, 0), lambda p: p.transpose(0, 1).transpose(-1, -2),
                  lambda p: p.permute(1, 0).permute(1, 0)):
        g = eliminate_dead_code(simplify_algebra(graph_of(lambda a, b: chain(hy.mm(a, b)).exp(), a, b)))
        assert ops_of(g) == ["mm", "exp"]
        np.testing.assert_allclose(replay(g, a, b).numpy(), chain(hy.mm(a, b)).exp().numpy(), rtol=1e-6)
    # Returned: the product itself comes back (a new tensor all the same), in the chain's layout.
    g = eliminate_dead_code(simplify_algebra(graph_of(lambda a, b: hy.mm(a, b).t().permute(1, 0), a, b)))
    assert ops_of(g) == ["mm"]
    got = replay(g, a, b)
    assert got.shape == (3, 5) and got.stride() == (5, 1)
    x = t(2, 3, 4)
    kept = [
        (lambda x: x.permute(2, 0, 1).permute(2, 0, 1).exp(), ["permute", "permute", "exp"]),  # not the identity
        (lambda x: x.permute(1, 2, 0).permute(2, 0, 1).exp(), ["exp"]),                      # inverse: folded
        (lambda x: x.transpose(0, 1).transpose(1, 2).exp(), ["transpose", "transpose", "exp"]),
        (lambda x: x.t() if x.dim() == 2 else x.transpose(0, 2).transpose(2, 0), ["transpose", "transpose"]),
    ]
    for fn, left in kept:   # the last: an input's chain returned stays a view, not the argument itself
        g = eliminate_dead_code(simplify_algebra(graph_of(fn, x)))
        assert ops_of(g) == left
        np.testing.assert_allclose(replay(g, x).numpy(), fn(x).numpy())


def test_simplify_keeps_view_chains_that_autograd_or_writes_see():
    def detached_chain(w):
        with hy.no_grad():
            v = w.t().t()     # does not require grad; w does
        return v * 2          # runs with grad mode on: reading w instead would record a gradient
    w = t(3, 4).requires_grad_()
    g = eliminate_dead_code(simplify_algebra(graph_of(detached_chain, w)))
    assert ops_of(g) == ["transpose", "transpose", "mul"]
    assert not replay(g, w).requires_grad
    x = t(3, 4)

    def written(x):
        y = x.t().t()
        y.add_(1)
        return y * 2
    g = eliminate_dead_code(simplify_algebra(graph_of(written, x.clone())))
    assert ops_of(g).count("transpose") == 2     # y is written: the chain stays
    x1, x2 = x.clone(), x.clone()
    np.testing.assert_allclose(replay(g, x1).numpy(), written(x2).numpy())
    np.testing.assert_allclose(x1.numpy(), x2.numpy())


# ---- fusion partitioner

def test_fusion_groups_elementwise_chain_and_reduction():
    def f(x, w):
        a = (x * 2 + 1).tanh()        # elementwise chain ...
        s = a.sum()                   # ... into a reduction: one group
        m = x @ w                     # gemm: its own
        return s, (m.exp() - 1).relu()  # a second chain after the gemm
    g = graph_of(f, t(4, 4), t(4, 4, seed=1))
    groups = partition_fusion_groups(g)
    assert [[n.op for n in grp.nodes] for grp in groups] == [["mul", "add", "tanh", "sum"],
                                                             ["exp", "sub", "relu"]]
    assert [grp.kind for grp in groups] == ["reduction", "elementwise"]


def test_fusion_nothing_joins_after_a_reduction():
    def f(x):
        b = x.exp().sum(0)      # the reduction closes the group
        return (b * 2).neg()    # a new group
    groups = partition_fusion_groups(graph_of(f, t(3, 3)))
    assert [[n.op for n in grp.nodes] for grp in groups] == [["exp", "sum"], ["mul", "neg"]]


def test_fusion_groups_stay_convex():
    def f(x):
        a = x.exp()
        d = a @ a               # the gemm reads a ...
        return (a + d).neg()    # ... so add cannot join exp: the group would depend on itself via the gemm
    groups = partition_fusion_groups(graph_of(f, t(3, 3)))
    assert [[n.op for n in grp.nodes] for grp in groups] == [["add", "neg"]]


def test_fusion_excludes_writes_and_random():
    g = graph_of(lambda x: (x.exp().add_(1) * hy.rand(3)).neg(), t(3))
    groups = partition_fusion_groups(g, min_size=1)
    fused = {n.op for grp in groups for n in grp.nodes}
    assert "rand" not in fused
    assert all(not n.written_values() for grp in groups for n in grp.nodes)
