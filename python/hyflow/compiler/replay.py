"""Run a Graph: fused groups as generated native kernels, every other node through the dispatcher.

Nodes outside compiled groups are called through the same front functions eager code calls, so autograd
records them as it records eager code (a compiled module trains), overlap rules and errors are eager's,
and random ops draw from the generator as eager would. A compiled group (codegen/, chosen by
codegen/plan.py: only when autograd need not record it) runs as one call at the position of its last
node: its materialized outputs are allocated here with the traced sizes, strides and dtypes, and the
launcher checks them and runs the loop with the GIL released over the thread pool.

A graph traced with symbolic sizes (symbolic.py) runs with the call's symbol values (``run(inputs, env)``):
outputs are allocated with the sizes they evaluate to, and each kernel gets its run-time sizes in ``meta``
(codegen/sizes.py). Nodes outside groups need nothing: eager ops compute their own shapes.
"""
import keyword

from .. import _C
from ._log import log
from .ir import Value, contiguous_strides
from .symbolic import Dim, SymMeta, evaluate, sym_contiguous_strides

__all__ = ["Program"]

_set_grad = _C._autograd.set_grad_enabled
_grad_enabled = _C._autograd.is_grad_enabled


class Program:
    """A Graph prepared for replay: values become slots of one list, each node a call with its arguments
    resolved into positional and keyword parts once."""

    def __init__(self, graph, kernels=None, autotune=False):
        """``kernels``: a codegen.GraphKernels whose compiled groups replace their nodes (None: replay all).
        ``autotune`` (mode="max-autotune"): the first run of each kernel chooses its launch grain by
        measurement or from the disk cache (codegen/autotune.py)."""
        self.graph = graph
        self.kernels = kernels
        self.tuning = {}   # step index -> GroupPlan whose grain is still to choose
        slot = {}
        for v in graph.inputs:
            slot[v.id] = len(slot)
        self.n_inputs = len(graph.inputs)
        self.fixed = []  # (slot, tensor) for captured and constant values
        for v in graph.captured:
            slot[v.id] = len(slot)
            self.fixed.append((slot[v.id], v.tensor))
        self.steps = []
        compiled = kernels.kernels if kernels is not None else {}
        if compiled:
            order = kernels.order   # groups as single steps; nodes reordered around them (codegen/schedule.py)
        else:
            order = [("node", n) for n in graph.nodes]
        for kind, n in order:
            if kind == "group":
                if id(n) not in compiled:   # planned, but the module failed to build: replay its nodes
                    for m in ([n.gemm] if n.gemm is not None else []) + n.nodes:
                        self._add_node_step(m, slot)
                    continue
                plan, kernel = compiled[id(n)]
                gemm = None
                if plan.gemm is not None:   # the GEMM runs in the same launch; its product gets a slot
                    g = plan.gemm
                    args = [slot[v.id] for v in g.input_values()]
                    product = g.output_values()[0]
                    ins = [slot[v.id] for v in plan.spec.inputs if v is not product]
                    gemm = (args, _assign(slot, product))
                else:
                    ins = [slot[v.id] for v in plan.spec.inputs]
                outs = [(_assign(slot, v), _allocator(v.meta)) for v in plan.spec.outputs]
                sizes = plan.spec.sizes if plan.spec.sizes.dynamic else None
                if autotune and gemm is None:   # a GEMM epilogue keeps the heuristic grain
                    self.tuning[len(self.steps)] = plan
                self.steps.append((None, kernel, ins, outs, (sizes, gemm)))
                continue
            self._add_node_step(n, slot)
        self.n_slots = len(slot)
        self._fast = None   # the generated replay (execute), made at the first call it can serve
        self._fast_for = None  # the step list _fast was generated from
        self._build = None  # the generated output-tree builder (run)
        self.slot_of = slot   # Value id -> slot (the compiled backward reads intermediates by Value)
        self.output_slots = _tree_map(graph.outputs, lambda v: ("slot", slot[v.id]))

    def _add_node_step(self, n, slot):
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

    def run(self, inputs, env=None):
        """Run the graph on ``inputs`` (one tensor per graph input, in order); returns the output tree.
        ``env``: the symbol values of this call (a graph with symbolic sizes)."""
        build = self._build
        if build is None:
            build = self._build = _tree_builder(self.output_slots)
        return build(self.execute(inputs, env))

    def execute(self, inputs, env=None):
        """Run the graph on ``inputs``; returns every slot's tensor (index them with ``slot_of``).

        Runs a Python function generated once from the steps (``_generate``: one line per call, slots as
        constant indices, no per-argument dispatch) — the interpreter below costs a few microseconds per
        node, which dominates small graphs. Until max-autotune has chosen every kernel's grain, and if
        generating fails, the interpreter runs."""
        if self.tuning:
            return self._interpret(inputs, env)
        fast = self._fast
        if fast is None or self._fast_for is not self.steps:
            # (Re)generate: first call, or a copy of this program given its own step list (hy.amp's
            # planner swaps calls that way). Whoever edits steps in place after a run resets _fast.
            try:
                fast = _generate(self)
            except Exception as e:   # never fail a call over the fast path: interpret instead
                log(f"replay: generated code failed ({type(e).__name__}: {e}); interpreting")
                fast = self._interpret
            self._fast, self._fast_for = fast, self.steps
        return fast(inputs, env)

    def _interpret(self, inputs, env=None):
        """The reference interpreter of ``steps`` (what ``_generate``'s code does, one step at a time)."""
        syms = env
        env = [None] * self.n_slots
        env[:self.n_inputs] = inputs
        for i, t in self.fixed:
            env[i] = t
        ambient = _grad_enabled()
        for k, (fn, pos, kw, outs, grad_enabled) in enumerate(self.steps):
            if fn is None:  # a compiled group: pos is its launcher, kw the input slots, grad_enabled
                tensors = [env[i] for i in kw]   # (its KernelSizes when it takes run-time sizes, its GEMM)
                for i, alloc in outs:
                    env[i] = t = alloc(syms)
                    tensors.append(t)
                if self.tuning:
                    pos = self._tune(k, tensors, syms)
                sizes, gemm = grad_enabled
                if gemm is not None:   # a GEMM epilogue: (GEMM argument slots, product slot)
                    args, product = gemm
                    env[product] = pos.run([env[i] for i in args], tensors, [] if sizes is None else sizes.meta(syms))
                elif sizes is None:
                    pos.run(tensors)
                else:
                    pos.run_with_meta(tensors, sizes.meta(syms))
                continue
            args = [_resolve(r, env, syms) for _, r in pos]
            kwargs = {name: _resolve(r, env, syms) for name, r in kw}
            if grad_enabled != ambient:
                _set_grad(grad_enabled)
                try:
                    res = fn(*args, **kwargs)
                finally:
                    _set_grad(ambient)
            else:
                res = fn(*args, **kwargs)
            _store(env, outs, res)
        return env


    def _tune(self, k, tensors, syms):
        """Choose step ``k``'s launch grain (max-autotune) and put the tuned launcher in its place."""
        plan = self.tuning.pop(k, None)
        fn, kernel, ins, outs, extra = self.steps[k]
        if plan is None:
            return kernel
        from .codegen import autotune, build
        sizes = extra[0]
        meta = None if sizes is None else sizes.meta(syms)
        work = plan.spec.numel.value(syms) if syms is not None and hasattr(plan.spec.numel, "value") \
            else plan.spec.numel   # a Dim, or a full reduction's Blocks (sizes.py)
        grain = plan.spec.grain or build.GRAIN
        default = grain.value(syms) if hasattr(grain, "value") else grain
        module = self.kernels.module
        chosen = autotune.choose_grain(module.path, plan.spec.name, work, default,
                                       lambda g: build.make_group_launcher(module, plan, g), tensors, meta)
        kernel = build.make_group_launcher(module, plan, chosen)
        self.steps[k] = (fn, kernel, ins, outs, extra)
        return kernel


def _allocator(meta):
    """A function of the call's symbol values making an uninitialized tensor with ``meta``'s sizes, strides
    and dtype."""
    if isinstance(meta, SymMeta) and meta.is_symbolic():
        dims, dtype = list(meta.shape), meta.dtype
        if tuple(meta.strides) == sym_contiguous_strides(meta.shape):
            return lambda syms: _empty([evaluate(n, syms) for n in dims], dtype)
        return lambda syms: _allocator(meta.at(syms))(None)
    shape, strides, dtype = tuple(meta.shape), tuple(meta.strides), meta.dtype
    if strides == tuple(contiguous_strides(meta.shape)):
        return lambda syms: _empty(shape, dtype)
    # Eager kept an input's layout (e.g. a transposed operand): same strides, over a dense block.
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides) if n > 0)
    return lambda syms: _empty((span,), dtype).as_strided(list(shape), list(strides))


_empty = _C._compiler.empty   # (shape, dtype): no argument parsing beyond the two


def _store(env, outs, res):
    """Put a node's result(s) into their slots (``outs``: a slot, or a list of slots for a list result)."""
    if len(outs) == 1:
        res = (res,)
    for o, r in zip(outs, res or ()):
        if isinstance(o, list):
            for i, x in zip(o, r):
                env[i] = x
        else:
            env[o] = r


def _binder(namespace):
    """const(obj) -> a name bound to obj in ``namespace`` (one name per object), for generated code."""
    names = {}

    def const(obj):
        key = id(obj)
        if key not in names:
            names[key] = f"c{len(names)}"
            namespace[names[key]] = obj
        return names[key]
    return const


def _generate(prog):
    """A Python function ``replay(inputs, syms) -> env`` doing what ``Program._interpret`` does for
    ``prog.steps``, written out as straight-line code: each node one call whose arguments are ``env[i]``
    with constant i or constants bound in the function's namespace, each compiled group its output
    allocations and one launch. torch.fx generates Python for its graphs the same way."""
    namespace = {"_grad_enabled": _grad_enabled, "_set_grad": _set_grad, "_evaluate": evaluate, "_store": _store}
    const = _binder(namespace)

    def ref(r):
        kind, x = r
        if kind == "slot":
            return f"env[{x}]"
        if kind == "list":
            return "[" + ", ".join(f"env[{i}]" for i in x) + "]"
        if kind == "dims":
            return f"[_evaluate(n, syms) for n in {const(x)}]"
        return const(x)

    body = [f"env = [None] * {prog.n_slots}", f"env[:{prog.n_inputs}] = inputs"]
    body += [f"env[{i}] = {const(t)}" for i, t in prog.fixed]
    if any(step[0] is not None for step in prog.steps):
        body.append("ambient = _grad_enabled()")
    for fn, pos, kw, outs, extra in prog.steps:
        if fn is None:   # a compiled group: pos is its launcher, kw its input slots
            sizes, gemm = extra
            body.append("t = [" + ", ".join(f"env[{i}]" for i in kw) + "]")
            for i, alloc in outs:
                body += [f"env[{i}] = a = {const(alloc)}(syms)", "t.append(a)"]
            launcher = const(pos)
            meta = "[]" if sizes is None else f"{const(sizes)}.meta(syms)"
            if gemm is not None:
                args, product = gemm
                body.append(f"env[{product}] = {launcher}.run([" + ", ".join(f"env[{i}]" for i in args)
                            + f"], t, {meta})")
            elif sizes is None:
                body.append(f"{launcher}.run(t)")
            else:
                body.append(f"{launcher}.run_with_meta(t, {meta})")
            continue
        args = [ref(r) for _, r in pos]
        for name, r in kw:
            args.append(f"{name}={ref(r)}" if name.isidentifier() and not keyword.iskeyword(name)
                        else f"**{{{name!r}: {ref(r)}}}")
        call = f"r = {const(fn)}({', '.join(args)})"
        grad = bool(extra)
        body += [f"if ambient == {grad}:", f"    {call}", "else:", f"    _set_grad({grad})", "    try:",
                 f"        {call}", "    finally:", "        _set_grad(ambient)"]
        if len(outs) == 1 and not isinstance(outs[0], list):
            body.append(f"env[{outs[0]}] = r")
        elif outs:
            body.append(f"_store(env, {const(outs)}, r)")
    body.append("return env")
    source = "def replay(inputs, syms):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<hyflow replay of {getattr(prog.graph, 'name', 'graph')}>", "exec"), namespace)
    replay = namespace["replay"]
    replay.source = source
    return replay


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
    if isinstance(a, list) and any(isinstance(x, Dim) for x in a):
        return ("dims", a)     # a symbolic shape argument (a backward graph's expand/view)
    return ("const", a)


def _resolve(ref, env, syms=None):
    kind, x = ref
    if kind == "slot":
        return env[x]
    if kind == "list":
        return [env[i] for i in x]
    if kind == "dims":
        return [evaluate(n, syms) for n in x]
    return x


def _tree_map(tree, f):
    if isinstance(tree, Value):
        return f(tree)
    if isinstance(tree, _C.Size):  # a shape read in the trace: ints only, returned as the Size it is
        return ("const", tree)
    if isinstance(tree, list):
        return ("tree", list, [_tree_map(x, f) for x in tree])
    if isinstance(tree, tuple):
        return ("tree", tuple, [_tree_map(x, f) for x in tree])
    if isinstance(tree, dict):
        return ("dict", list(tree.keys()), [_tree_map(x, f) for x in tree.values()])
    return ("const", tree)


def _tree_builder(spec):
    """A function env -> the output tree of ``spec`` (``_tree_build`` written out as one expression:
    lists, tuples and dicts of slots nest without a call per node)."""
    namespace = {}
    const = _binder(namespace)

    def expr(sp):
        kind = sp[0]
        if kind == "slot":
            return f"env[{sp[1]}]"
        if kind == "const":
            return const(sp[1])
        items = ", ".join(expr(x) for x in sp[2])
        if kind == "dict":
            return f"dict(zip({const(sp[1])}, [{items}]))"
        if sp[1] is list:
            return f"[{items}]"
        if sp[1] is tuple:
            return f"({items}{',' if len(sp[2]) == 1 else ''})"
        return f"{const(sp[1])}([{items}])"

    try:
        source = f"def build(env):\n    return {expr(spec)}\n"
        exec(compile(source, "<hyflow replay outputs>", "exec"), namespace)
        return namespace["build"]
    except (SyntaxError, RecursionError, MemoryError):   # a pathologically deep tree: walk it instead
        return lambda env: _tree_build(spec, env)


def _tree_build(spec, env):
    kind = spec[0]
    if kind == "slot":
        return env[spec[1]]
    if kind == "tree":
        return spec[1](_tree_build(x, env) for x in spec[2])
    if kind == "dict":
        return dict(zip(spec[1], (_tree_build(x, env) for x in spec[2])))
    return spec[1]
