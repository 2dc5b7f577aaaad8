"""The eager backend: run a Graph by calling its ops through the dispatcher, one node after another.

Calling the same front functions eager code calls means autograd records the replay as it records eager
code (a compiled module trains), overlap rules and errors are eager's, and random ops draw from the
generator as eager would. What the compiler gains today is what its passes removed; code generation
(docs/compiler.md, "What comes next") replaces groups of these calls with fused native loops.
"""
from .. import _C
from .ir import Value

__all__ = ["Program"]

_set_grad = _C._autograd.set_grad_enabled
_grad_enabled = _C._autograd.is_grad_enabled


class Program:
    """A Graph prepared for replay: values become slots of one list, each node a call with its arguments
    resolved into positional and keyword parts once."""

    def __init__(self, graph):
        self.graph = graph
        slot = {}
        for v in graph.inputs:
            slot[v.id] = len(slot)
        self.n_inputs = len(graph.inputs)
        self.fixed = []  # (slot, tensor) for captured and constant values
        for v in graph.captured:
            slot[v.id] = len(slot)
            self.fixed.append((slot[v.id], v.tensor))
        self.steps = []
        for n in graph.nodes:
            fn = getattr(_C.ops, n.op) if n.entry.get("builtin") else _user_op(n.op)
            pos, kw = [], []
            for spec, a in zip(n.entry["args"], n.args):
                target = kw if spec["kwarg_only"] else pos
                target.append((spec["name"], _arg_ref(a, slot)))
            outs = []
            for r in n.results:
                if isinstance(r, list):
                    outs.append([_assign(slot, v) for v in r])
                else:
                    outs.append(_assign(slot, r))
            self.steps.append((fn, pos, kw, outs, n.grad_enabled))
        self.n_slots = len(slot)
        self.output_slots = _tree_map(graph.outputs, lambda v: ("slot", slot[v.id]))

    def run(self, inputs):
        """Run the graph on ``inputs`` (one tensor per graph input, in order); returns the output tree."""
        env = [None] * self.n_slots
        env[:self.n_inputs] = inputs
        for i, t in self.fixed:
            env[i] = t
        ambient = _grad_enabled()
        for fn, pos, kw, outs, grad_enabled in self.steps:
            args = [_resolve(r, env) for _, r in pos]
            kwargs = {name: _resolve(r, env) for name, r in kw}
            if grad_enabled != ambient:
                _set_grad(grad_enabled)
                try:
                    res = fn(*args, **kwargs)
                finally:
                    _set_grad(ambient)
            else:
                res = fn(*args, **kwargs)
            if len(outs) == 1:
                res = (res,)
            for o, r in zip(outs, res or ()):
                if isinstance(o, list):
                    for i, x in zip(o, r):
                        env[i] = x
                else:
                    env[o] = r
        return _tree_build(self.output_slots, env)


def _user_op(name):
    def call(*args, **kwargs):
        return _C._call_op(name, *args, **kwargs)
    return call


def _assign(slot, v):
    slot[v.id] = len(slot)
    return slot[v.id]


def _arg_ref(a, slot):
    if isinstance(a, Value):
        return ("slot", slot[a.id])
    if isinstance(a, list) and any(isinstance(x, Value) for x in a):
        return ("list", [slot[x.id] for x in a])
    return ("const", a)


def _resolve(ref, env):
    kind, x = ref
    if kind == "slot":
        return env[x]
    if kind == "list":
        return [env[i] for i in x]
    return x


def _tree_map(tree, f):
    if isinstance(tree, Value):
        return f(tree)
    if isinstance(tree, list):
        return ("tree", list, [_tree_map(x, f) for x in tree])
    if isinstance(tree, tuple):
        return ("tree", tuple, [_tree_map(x, f) for x in tree])
    if isinstance(tree, dict):
        return ("dict", list(tree.keys()), [_tree_map(x, f) for x in tree.values()])
    return ("const", tree)


def _tree_build(spec, env):
    kind = spec[0]
    if kind == "slot":
        return env[spec[1]]
    if kind == "tree":
        return spec[1](_tree_build(x, env) for x in spec[2])
    if kind == "dict":
        return dict(zip(spec[1], (_tree_build(x, env) for x in spec[2])))
    return spec[1]
