"""hy.onnx.export: trace a module or function once with the graph compiler's capture, then write the
captured graph as an ONNX model.

1. Capture (hyflow.compiler.capture.trace, the one tracer): the model runs in eval mode without grad;
   ops are recorded with their Python call site, and graph breaks are recorded and capture goes on, so
   one ExportError can list every problem.
2. Check every node: a user op, an op with neither an ``onnx`` mapping in the op table nor a composite
   (_lower.COMPOSITES), a mapping newer than the opset, an in-place write into memory the graph does not
   own (a parameter, an input, a view of another value). Then lower each node (_lower.py); a lowering may
   still refuse an argument (``div(rounding_mode='trunc')`` of integers).
3. Parameters and buffers become initializers named by their module path (``mlp.0.weight``); other
   captured tensors ``captured_<n>``; Python numbers constants of the dtype their op computes in.
4. onnx.checker.check_model(full_check=True) (strict shape inference), then an atomic write, with the
   initializers in a ``<file>.data`` file beside it when the model is large (or ``external_data=True``).
"""
import os
import shutil
import tempfile

import onnx
from onnx import helper

import hyflow as hy

from .. import _atomic
from ..compiler import _pytree, capture
from ..compiler.ir import Value
from . import _dtypes, _lower, _opset
from ._builder import Builder
from .errors import ExportError

__all__ = ["export", "EXTERNAL_DATA_THRESHOLD"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Protobuf cannot serialize a message of 2 GiB or more; stay clear of it (the graph itself needs room).
EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 26
# Initializers at least this large go to the external file when external data is used.
EXTERNAL_TENSOR_MIN_BYTES = 1024


class _Unsupported(Exception):
    pass


class _Context:
    """What a lowering sees: ONNX names of Values, the builder, whether dynamic axes are in use."""
    Value = Value
    Unsupported = _Unsupported

    def __init__(self, builder, names, used, dynamic, sym_exprs=None, symbols=None):
        self.b, self._names, self._used, self.dynamic = builder, names, used, dynamic
        self.sym_exprs, self.symbols = sym_exprs or {}, symbols or {}
        self._sym_names = {}
        self.node = None  # the node being lowered

    def ints(self, values, arg):
        """The int64 1-D input for argument ``arg`` of the node being lowered: constant, or computed from
        the inputs' shapes where a dynamic size decides it (see _symbolic.py)."""
        from . import _symbolic
        return _symbolic.emit(self, list(values), self.sym_exprs.get(id(self.node)), arg)

    def has_symbolic(self, arg):
        return any(k[0] == arg for k in self.sym_exprs.get(id(self.node), {}))

    def symbol(self, sym):
        """A 1-element int64 tensor: the run-time size of dynamic axis ``sym``."""
        if sym not in self._sym_names:
            name, axis, _ = self.symbols[sym]
            self._sym_names[sym] = self.b.node("Shape", [name], start=axis, end=axis + 1)
        return self._sym_names[sym]

    def name(self, v):
        if v.id not in self._names:
            if v.is_literal_number():
                self._names[v.id] = self.b.const(v.tensor.item(), v.meta.dtype)
            else:
                raise _Unsupported(f"value %{v.name} has no ONNX name (its producer was not exported)")
        return self._names[v.id]

    def operand(self, v, dtype):
        """``v`` as an input of ``dtype``: a literal number becomes a constant of that dtype, a tensor
        is cast when its dtype differs."""
        if v.is_literal_number():
            return self.b.const(v.tensor.item(), dtype)
        return self.b.cast(self.name(v), v.meta.dtype, dtype)

    def is_used(self, v):
        return v is not None and v.id in self._used


def export(model_or_fn, args, f, input_names=None, output_names=None, dynamic_axes=None, opset=None,
           external_data=None):
    """Export ``model_or_fn(*args)`` to the ONNX file ``f`` (a path, or a binary file object).

    input_names / output_names: names of the tensor inputs (the tensors in ``args``, in order) and of the
    outputs (the returned tensors, flattened); default ``input_<i>`` / ``output_<i>``.
    dynamic_axes: ``{name: {axis: "symbol"}}`` or ``{name: [axis, ...]}`` -- those dims become symbolic.
    opset: None for the newest the installed onnx and ONNX Runtime both support (see docs/onnx.md).
    external_data: None (automatic: when the initializers near protobuf's 2 GiB limit), True, or False.
    Returns the onnx.ModelProto (with external data: without the tensors' bytes). Raises ExportError
    listing every part that cannot be exported."""
    opset = _opset.resolve(opset)
    if not isinstance(args, tuple):
        args = (args,) if _pytree.is_tensor(args) else tuple(args)
    if external_data not in (None, True, False):
        raise TypeError(f"export(): external_data must be None, True or False, got {external_data!r}")
    if external_data and not isinstance(f, (str, os.PathLike)):
        raise ValueError("export(): external_data=True needs f to be a path (the data goes in a file beside it)")

    graph, breaks = _trace(model_or_fn, args)
    in_values = graph.inputs
    out_leaves = _pytree.flatten(graph.outputs)[0]
    input_names = _names("input_names", input_names, len(in_values), "input")
    output_names = _names("output_names", output_names, len(out_leaves), "output")
    if len(set(input_names) | set(output_names)) != len(input_names) + len(output_names):
        raise ValueError("export(): input_names and output_names must be distinct")
    dynamic = _dynamic_axes(dynamic_axes, input_names, output_names)

    b = Builder(opset)
    for n in input_names + output_names:
        b.reserve(n)
    sites = getattr(graph, "call_sites", None)
    problems = [(f"graph break: {what}", where) for what, where in breaks]
    sym = (None, None)
    if dynamic and not problems:
        from . import _symbolic
        sym = _symbolic.find(lambda a: _trace(model_or_fn, a)[0], args, graph, input_names, dynamic)
    more, _ = _lower_graph(b, graph, input_names, output_names, model_or_fn, bool(dynamic), sites,
                           check_only=bool(problems), sym=sym)
    problems += more
    if problems:
        raise ExportError(problems)
    model = _make_model(b, in_values, input_names, out_leaves, output_names, dynamic, opset)
    return _validate_and_write(model, f, external_data)


def _lower_graph(b, graph, input_names, output_names=None, model=None, dynamic=False, sites=None,
                 check_only=False, sym=(None, None)):
    """Lower a captured graph into builder ``b``: inputs named ``input_names``, outputs Identity'd to
    ``output_names`` (fresh names when None). Returns (problems, output names); on problems nothing
    usable was emitted."""
    out_leaves = _pytree.flatten(graph.outputs)[0]
    names = {v.id: n for v, n in zip(graph.inputs, input_names)}
    _name_captured(b, graph, names, model)
    used = {v.id for n in graph.nodes for v in n.input_values()} | {v.id for v in out_leaves
                                                                     if isinstance(v, Value)}
    cx = _Context(b, names, used, dynamic, *sym)
    sites = sites or [""] * len(graph.nodes)
    problems = _check_nodes(graph, sites, b.opset)
    if not problems and not check_only:
        for node, site in zip(graph.nodes, sites):
            cx.node = node
            try:
                outs = _lower_node(cx, node)
            except _Unsupported as err:
                problems.append((f"{node.op}: {err}", site))
                continue
            for r, o in zip(node.results, outs):
                if isinstance(r, list):
                    for rv, on in zip(r, o):
                        names[rv.id] = on
                elif r is not None and o is not None:
                    names[r.id] = o
    for i, leaf in enumerate(out_leaves):
        if not isinstance(leaf, Value):
            problems.append((f"output {i} is a {type(leaf).__name__}, not a tensor", ""))
    if problems or check_only:
        return problems, None
    if output_names is None:
        output_names = [b.reserve(b.fresh(f"y{i}")) for i in range(len(out_leaves))]
    for v, n in zip(out_leaves, output_names):
        b.node("Identity", [cx.name(v)], [n])
    return problems, output_names


# ---- tracing ----------------------------------------------------------------------------------------------
def _trace(model_or_fn, args):
    for i, a in enumerate(_pytree.flatten(args)[0]):
        if not (_pytree.is_tensor(a) or a is None or isinstance(a, (int, float, bool, str))):
            raise TypeError(f"export(): args[{i}] is a {type(a).__name__}; pass tensors (and plain numbers)")
    is_module = isinstance(model_or_fn, hy.nn.Module)
    if not (is_module or callable(model_or_fn)):
        raise TypeError(f"export(): model_or_fn must be an nn.Module or a callable, got {type(model_or_fn).__name__}")
    modes = [(m, m.training) for m in model_or_fn.modules()] if is_module else []
    if is_module:
        model_or_fn.eval()
    try:
        with hy.no_grad():
            tr = capture.trace(model_or_fn, args, {}, keep_going=True, site_skip_prefix=_PACKAGE_DIR)
    finally:
        for m, training in modes:
            m.training = training
    return tr.graph, tr.breaks


def _names(what, names, n, prefix):
    if names is None:
        return [f"{prefix}_{i}" for i in range(n)]
    names = list(names)
    if len(names) != n or not all(isinstance(x, str) and x for x in names):
        raise ValueError(f"export(): {what} must be {n} non-empty strings (one per tensor {prefix}), got {names!r}")
    if len(set(names)) != n:
        raise ValueError(f"export(): {what} has duplicates: {names!r}")
    return names


def _dynamic_axes(dynamic_axes, input_names, output_names):
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in input_names and name not in output_names:
            raise ValueError(f"export(): dynamic_axes names {name!r}, which is neither an input nor an output "
                             f"name ({input_names + output_names})")
        if isinstance(axes, dict):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dim{a}" for a in axes}
    return out


def _name_captured(b, graph, names, model):
    """Initializers for the captured tensors: a parameter or buffer by its module path."""
    paths = {}
    if isinstance(model, hy.nn.Module):
        for path, t in list(model.named_buffers()) + list(model.named_parameters()):
            paths.setdefault(t.untyped_storage_ptr(), []).append((path, t))
    for i, v in enumerate(graph.captured):
        if v.is_literal_number():
            continue
        hint = f"captured_{i}"
        for path, t in paths.get(v.storage, []):
            if t is v.tensor or (tuple(t.shape) == v.meta.shape and t.stride() == v.tensor.stride()):
                hint = path
                break
        names[v.id] = b.initializer(b.fresh(hint), v.tensor)


def _check_nodes(graph, sites, opset):
    """Problems found from the op table alone, before any lowering runs."""
    problems = []
    storage_count = {}
    for v in list(graph.inputs) + list(graph.captured) + [r for n in graph.nodes for r in n.output_values()]:
        if v.storage is not None:
            storage_count.setdefault(v.storage, set()).add(v.id)
    from . import _lower_fft, custom_ops, functions
    # A complex value is exported as its (real, imag) pairs, which only the FFT lowerings read
    # (_lower_fft.py); ONNX Runtime takes no complex model inputs or outputs.
    outs = [v for v in _pytree.flatten(graph.outputs)[0] if isinstance(v, Value)]
    for what, values in (("input", graph.inputs), ("output", outs)):
        for v in values:
            if v.meta.dtype.is_complex:
                problems.append((f"{what} %{v.name} is {v.meta.dtype}: ONNX models take and return real tensors "
                                 "(export hy.view_as_real(x); rebuild a complex input with hy.view_as_complex)", ""))
    for node, site in zip(graph.nodes, sites):
        entry = node.entry
        if node.op not in _lower_fft.COMPLEX_INPUT_OPS and any(v.meta.dtype.is_complex for v in node.input_values()):
            problems.append((f"{node.op}: takes a complex tensor; only the FFT ops and view_as_real export complex "
                             "values", site))
            continue
        if node.op in custom_ops.REGISTERED or node.op in functions.FUNCTIONS:
            continue
        if not entry.get("builtin"):
            problems.append((f"{node.op}: user-defined op (no ONNX form)", site))
            continue
        how = _lower.supported(node.op)
        if how is None:
            problems.append((f"{node.op}: no ONNX mapping in the op table", site))
            continue
        spec = hy.ops.onnx_spec(node.op) if how == "mapping" else None
        need = max((spec or {}).get("since") or 0, _lower.MIN_OPSET.get(node.op, 0))
        if need > opset:
            problems.append((f"{node.op}: needs opset >= {need} (exporting opset {opset})", site))
        for w in node.written_values():
            if w.kind != "node" or len(storage_count.get(w.storage, ())) > _writes_to(graph, w.storage):
                problems.append((f"{node.op}: in-place write into a parameter, an input or a view "
                                 f"(ONNX values are immutable)", site))
                break
    return problems


def _writes_to(graph, storage):
    """How many Values of one storage an in-place chain on a fresh tensor makes: itself plus one per
    write (each write yields a new SSA value of the same memory)."""
    n = 1
    for node in graph.nodes:
        n += sum(1 for w in node.written_values() if w.storage == storage)
    return n


def _lower_node(cx, node):
    from . import custom_ops, functions
    if node.op in functions.FUNCTIONS:
        return functions.lower(cx, node, lambda sub, g, ins: _lower_graph(sub, g, ins))
    if node.op in custom_ops.REGISTERED:
        return custom_ops.lower(cx, node)
    fn = _lower.COMPOSITES.get(node.op) or _lower.LOWERINGS.get(node.op)
    if fn is not None:
        return fn(cx, node)
    return _lower.lower_generic(cx, node)


# ---- the model --------------------------------------------------------------------------------------------
def _value_info(name, meta, dims):
    shape = [dims.get(i, n) for i, n in enumerate(meta.shape)]
    return helper.make_tensor_value_info(name, _dtypes.to_onnx(meta.dtype), shape)


def _make_model(b, in_values, input_names, out_values, output_names, dynamic, opset):
    inputs = [_value_info(n, v.meta, dynamic.get(n, {})) for v, n in zip(in_values, input_names)]
    if dynamic:  # an output's dims follow the inputs': leave the undeclared ones to shape inference
        outputs = [helper.make_tensor_value_info(n, _dtypes.to_onnx(v.meta.dtype),
                                                 [dynamic.get(n, {}).get(i) for i in range(len(v.meta.shape))])
                   for v, n in zip(out_values, output_names)]
    else:
        outputs = [_value_info(n, v.meta, {}) for v, n in zip(out_values, output_names)]
    g = helper.make_graph(b.nodes, "hyflow", inputs, outputs, initializer=b.initializers)
    imports_functions = list(b.functions)
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in sorted(b.domains)]
    model = helper.make_model(g, opset_imports=imports, functions=imports_functions, producer_name="hyflow",
                              producer_version=hy.__version__ if hasattr(hy, "__version__") else "")
    model.ir_version = min(model.ir_version, _max_ir_version())
    return model


def _max_ir_version():
    """The newest IR version the installed ONNX Runtime loads (it refuses newer files); onnx's own
    otherwise."""
    return min(onnx.IR_VERSION, _opset.runtime_max_ir_version())


def _initializer_bytes(model):
    return sum(len(t.raw_data) or onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def _validate_and_write(model, f, external_data):
    big = _initializer_bytes(model) >= EXTERNAL_DATA_THRESHOLD
    if external_data is None:
        external_data = big
    if big and not external_data:
        raise ValueError("export(): the model's initializers exceed protobuf's 2 GiB limit; pass "
                         "external_data=True (or None)")
    if external_data and not isinstance(f, (str, os.PathLike)):
        raise ValueError("export(): a model this large needs external data: pass a path as f")
    if not external_data:
        _check(model)
        data = model.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            _atomic.atomic_write(os.fspath(f), [data])
        else:
            f.write(data)
        return model
    return _write_external(model, os.fspath(f))


def _check(model):
    """The ONNX checker with strict shape inference; a failure is an exporter bug, reported as such."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise ExportError([(f"the exported model fails the ONNX checker (an exporter bug, please report): "
                            f"{str(err).strip()}", "")]) from err


def _write_external(model, path):
    """The model file plus ``<name>.data`` beside it. Both are staged in a temp folder beside the target
    and checked there; then the data file is renamed into place and the model written atomically last, so
    a model file on disk always refers to a complete data file."""
    from onnx import external_data_helper as ext
    directory = os.path.dirname(os.path.abspath(path))
    location = os.path.basename(path) + ".data"
    ext.convert_model_to_external_data(model, all_tensors_to_one_file=True, location=location,
                                       size_threshold=EXTERNAL_TENSOR_MIN_BYTES)
    staging = tempfile.mkdtemp(prefix=".hyflow-onnx-", dir=directory)
    try:
        ext.write_external_data_tensors(model, staging)  # clears the tensors' bytes in `model`
        staged_model = os.path.join(staging, os.path.basename(path))
        with open(staged_model, "wb") as fh:
            fh.write(model.SerializeToString())
        _check(staged_model)
        staged_data = os.path.join(staging, location)
        if os.path.exists(staged_data):
            with open(staged_data, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(staged_data, os.path.join(directory, location))
        _atomic.atomic_write(path, [model.SerializeToString()])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model
