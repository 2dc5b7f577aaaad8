"""hy.onnx.InferenceSession: run an ONNX model with ONNX Runtime on hyflow tensors, without copies.

Every call goes through ORT's I/O binding:

* inputs: each hyflow tensor's memory is bound by pointer (``bind_input(buffer_ptr=t.data_ptr())``), so ORT
  reads hyflow's buffer in place; a non-contiguous tensor is made contiguous first (one copy, as ORT reads
  dense row-major memory only);
* outputs: when an output's shape is known before the run (static in the model, or its symbolic dims
  named by an input's dims: ``y[batch, 2]`` from ``x[batch, 27]``), hyflow allocates the tensor and ORT
  writes into it (``bind_output(buffer_ptr=...)``); otherwise ORT allocates and the result is handed over
  through NumPy without a copy.

One session may be called from several threads at once: ORT's ``Run`` is thread-safe, and each thread
gets its own IOBinding (bindings are per-call state). ORT releases the GIL while it runs.
"""
import functools
import os
import threading

import onnxruntime as ort

import hyflow as hy

from . import _dtypes

__all__ = ["InferenceSession"]

# The output allocation of every call: hyflow's C-level factory, skipping hy.empty's varargs handling.
_empty = hy._C.ops.empty


def _cpu_device():
    """ORT's native CPU device object, built once (the Python wrapper builds one per bind); None where this
    ORT version lays it out differently (the session then binds through the public wrapper)."""
    try:
        from onnxruntime.capi.onnxruntime_inference_collection import OrtDevice
        return OrtDevice.make("cpu", 0)._get_c_device()
    except Exception:  # noqa: BLE001 - any layout difference: use the wrapper
        return None


def _np_element_type(dtype):
    np_dtype = _dtypes.numpy_of(dtype)
    if np_dtype is None:
        raise TypeError(f"InferenceSession: dtype {dtype} cannot be bound to ONNX Runtime")
    return np_dtype


class _Port:
    """One model input or output: name, hyflow dtype, shape (ints, or str/None for symbolic dims)."""
    __slots__ = ("name", "dtype", "shape", "np_type", "symbolic")

    def __init__(self, arg):
        self.name = arg.name
        self.dtype = _dtypes.from_ort_name(arg.type)
        if self.dtype is None:
            raise TypeError(f"InferenceSession: {arg.name!r} has type {arg.type}, which hyflow has no dtype for")
        self.shape = [d if isinstance(d, int) and d >= 0 else (d if isinstance(d, str) else None)
                      for d in (arg.shape or [])]
        self.np_type = _dtypes.numpy_of(self.dtype)
        self.symbolic = any(isinstance(d, str) for d in self.shape)


class _ThreadState:
    """One thread's IOBinding, what is bound in it, and the plan of its last validated call (the fast path)."""
    __slots__ = ("binding", "bound", "selected", "fast_key", "fast_outputs", "fast_out", "run", "bind_output",
                 "device")

    def __init__(self, binding, run, bind_output, device):
        self.binding, self.bound, self.selected = binding, {}, None
        self.fast_key, self.fast_outputs, self.fast_out = None, None, None
        # run(): ORT's run on this binding; bind_output(name, device, element_type, shape, pointer): ORT's
        # native binder where reachable (the Python wrapper rebuilds an OrtDevice and checks pins each call,
        # ~1.5 us), both resolved once here rather than per call.
        self.run, self.bind_output, self.device = run, bind_output, device


class InferenceSession:
    """An ONNX model loaded into ONNX Runtime, called with and returning hyflow tensors.

    ``path_or_bytes``: a file path or the model's bytes. ``threads``: ORT's intra-op threads (None: ORT's
    default, one per core). ``providers``: ORT execution providers (default: CPU). ``custom_ops``: register
    onnxruntime-extensions so nodes exported by hy.onnx.custom_op run hyflow's kernels (None: when the
    model uses that domain).

    ``sess(*tensors)`` returns one tensor (one output) or a tuple; ``sess.run(inputs, output_names=None,
    out=None)`` takes a list or a ``{name: tensor}`` dict and returns a list; ``out`` gives preallocated
    output tensors ORT writes into."""

    def __init__(self, path_or_bytes, threads=None, providers=None, custom_ops=None):
        if isinstance(path_or_bytes, (bytes, bytearray)):
            source, what = bytes(path_or_bytes), "the model bytes"
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            source = os.fspath(path_or_bytes)
            what = f"model file {source!r}"
            if not os.path.isfile(source):
                raise ValueError(f"InferenceSession: {what} does not exist")
        else:
            raise TypeError(f"InferenceSession: path_or_bytes must be a path or bytes, got "
                            f"{type(path_or_bytes).__name__}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"InferenceSession: threads must be a positive integer or None, got {threads!r}")
        options = ort.SessionOptions()
        options.log_severity_level = 4  # ORT's own errors reach the caller as exceptions, not on stderr
        # ORT's pool spins after each run by default, on the cores hyflow's own pool needs next: on a
        # 2-core machine an eager MLP between two ORT calls ran ~10x slower. Idle ORT threads sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if providers is None:
            providers = ["CPUExecutionProvider"]
        from . import custom_ops as _custom
        if custom_ops is None:  # automatic: when the model uses hyflow's custom-op domain
            try:
                custom_ops = _custom.model_uses_custom_domain(source)
            except Exception:  # noqa: BLE001 - an unreadable model: ORT's load below says why
                custom_ops = False
        if custom_ops:
            _custom.enable(options)
        try:
            self._sess = ort.InferenceSession(source, options, providers=list(providers))
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception classes
            raise RuntimeError(f"InferenceSession: ONNX Runtime cannot load {what}: {_first_line(err)}") from err
        self.inputs = [_Port(a) for a in self._sess.get_inputs()]
        self.outputs = [_Port(a) for a in self._sess.get_outputs()]
        self.input_names = [p.name for p in self.inputs]
        self.output_names = [p.name for p in self.outputs]
        self._by_name = {p.name: p for p in self.inputs}
        self._local = threading.local()
        # ORT's Python run_with_iobinding adds a few us of wrapper checks per call; its native method takes
        # the same binding. Fall back to the public wrapper where that layout differs.
        native = getattr(self._sess, "_sess", None)
        self._native_run = getattr(native, "run_with_iobinding", None)

    @property
    def ort_session(self):
        """The underlying onnxruntime.InferenceSession."""
        return self._sess

    # ---- calling ---------------------------------------------------------------------------------------
    def __call__(self, *tensors, **named):
        st = getattr(self._local, "st", None)
        if st is not None and st.fast_key is not None and not named:
            outs = self._run_fast(st, tensors, None)
            if outs is not None:
                return outs[0] if len(outs) == 1 else tuple(outs)
        if tensors and named:
            raise TypeError("InferenceSession(): pass inputs positionally or by name, not both")
        outs = self.run(named if named else list(tensors))
        return outs[0] if len(outs) == 1 else tuple(outs)

    def run(self, inputs, output_names=None, out=None):
        """Run the model; returns the requested outputs (all by default) as hyflow tensors.

        ``out``: preallocated output tensors (contiguous, the output's dtype and shape) that ORT writes
        into and that are returned. A thread that calls again with the same input buffers and the same
        ``out`` tensors reuses its bindings as they are (the fastest path: see docs/onnx.md)."""
        st = self._state()
        if output_names is None and st.fast_key is not None and type(inputs) in (list, tuple):
            outs = self._run_fast(st, inputs, out)
            if outs is not None:
                return outs
        st.fast_key = None
        feeds = self._match_inputs(inputs)
        ports = self.outputs if output_names is None else self._select_outputs(output_names)
        st = self._state()
        binding, bound = st.binding, st.bound
        sizes = {}
        for port, t in feeds:
            shape = tuple(t.shape)
            key = (t.data_ptr(), shape)
            if bound.get(port.name) != key:
                binding.bind_input(port.name, "cpu", 0, port.np_type, shape, key[0])
                bound[port.name] = key
            if port.symbolic:
                for d, n in zip(port.shape, shape):
                    if isinstance(d, str):
                        sizes.setdefault(d, n)
        if out is not None:
            out = list(out)
            if len(out) != len(ports):
                raise ValueError(f"InferenceSession.run: out has {len(out)} tensors for {len(ports)} outputs")
        if output_names is not None and st.selected != tuple(output_names):
            binding.clear_binding_outputs()  # another output subset than last time: drop the old ones
            for p in self.outputs:
                bound.pop("\0" + p.name, None)
        st.selected = None if output_names is None else tuple(output_names)
        results = []
        for i, port in enumerate(ports):
            t = out[i] if out is not None else None
            shape = self._known_shape(port, sizes)
            if t is not None:
                self._check_out(port, t, shape)
            elif shape is not None:
                t = hy.empty(shape, dtype=port.dtype)
            slot = "\0" + port.name
            if t is not None:
                key = (t.data_ptr(), tuple(t.shape))
                if bound.get(slot) != key:
                    binding.bind_output(port.name, "cpu", 0, port.np_type, key[1], key[0])
                    bound[slot] = key
            else:
                binding.bind_output(port.name, "cpu")
                bound.pop(slot, None)
            results.append(t)
        self._run_bound(st)
        if any(t is None for t in results):
            produced = binding.get_outputs()
            for i, t in enumerate(results):
                if t is None:  # ORT allocated it: hand its memory over through NumPy
                    results[i] = hy.from_numpy(produced[i].numpy())
        elif output_names is None and type(inputs) in (list, tuple):
            st.fast_key = _buffer_key(inputs)
            if any(not k[3] for k in st.fast_key) or any(
                    f[1].data_ptr() != k[0] for f, k in zip(feeds, st.fast_key)):
                st.fast_key = None  # an input was copied to make it dense: that copy is not reusable
            st.fast_outputs = [(p.name, tuple(t.shape), p.dtype, _dtypes.to_onnx(p.dtype), "\0" + p.name)
                               for p, t in zip(ports, results)]
            st.fast_out = None if out is None else _buffer_key(out)
        return results

    def _run_fast(self, st, inputs, out):
        """The same inputs (buffer, shape, dtype, dense) as this thread's last validated call, all outputs:
        nothing to check or rebind but fresh outputs (or the same ``out`` buffers). None: not that case.
        Kept lean on purpose: this is the per-call cost docs/onnx.md quotes."""
        try:
            key = _buffer_key(inputs)
        except AttributeError:
            return None
        if key != st.fast_key:
            return None
        if out is None:
            results, bound, bind, device = [], st.bound, st.bind_output, st.device
            for name, shape, dtype, element_type, slot in st.fast_outputs:
                t = _empty(shape, dtype=dtype)
                ptr = t.data_ptr()
                bind(name, device, element_type, shape, ptr)
                bound[slot] = (ptr, shape)
                results.append(t)
        else:
            try:
                same = len(out) == len(st.fast_outputs) and _buffer_key(out) == st.fast_out
            except (AttributeError, TypeError):
                same = False  # not tensors: the checked path below says which one
            if not same:
                return None
            results = list(out)
        self._run_bound(st)
        return results

    def _run_bound(self, st):
        try:
            st.run()  # GIL released inside ORT
        except Exception as err:  # noqa: BLE001
            st.bound.clear()
            st.fast_key = None
            st.binding.clear_binding_inputs()
            st.binding.clear_binding_outputs()
            raise RuntimeError(f"InferenceSession: ONNX Runtime failed: {_first_line(err)}") from err

    # ---- helpers ---------------------------------------------------------------------------------------
    def _state(self):
        """This thread's IOBinding and what is bound in it ({name: (pointer, shape)}): a binding is per-call
        state ORT does not share between threads; rebinding an unchanged buffer is skipped (a few us each)."""
        st = getattr(self._local, "st", None)
        if st is None:
            st = self._local.st = self._new_state()
        return st

    def _new_state(self):
        binding = self._sess.io_binding()
        native = getattr(binding, "_iobinding", None)
        # ORT's Python run_with_iobinding and bind_output add a few us of wrapper checks per call; their
        # native methods take the same arguments less the wrapper's. Fall back to the public wrapper where
        # that layout differs (another ORT version).
        if self._native_run is not None and native is not None:
            run = functools.partial(self._native_run, native, None)
        else:
            run = functools.partial(self._sess.run_with_iobinding, binding)
        device = _cpu_device()
        if native is not None and device is not None and hasattr(native, "bind_output"):
            bind_output = native.bind_output
        else:
            def bind_output(name, _device, element_type, shape, ptr):
                binding.bind_output(name, "cpu", 0, element_type, shape, ptr)
        return _ThreadState(binding, run, bind_output, device)

    def _binding(self):
        return self._state().binding

    def _match_inputs(self, inputs):
        if isinstance(inputs, dict):
            unknown = [k for k in inputs if k not in self._by_name]
            if unknown:
                raise ValueError(f"InferenceSession: unknown input(s) {unknown}; the model's inputs are "
                                 f"{self.input_names}")
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"InferenceSession: missing input(s) {missing}")
            pairs = [(self._by_name[n], inputs[n]) for n in self.input_names]
        else:
            inputs = list(inputs)
            if len(inputs) != len(self.inputs):
                raise ValueError(f"InferenceSession: the model takes {len(self.inputs)} input(s) "
                                 f"{self.input_names}, got {len(inputs)}")
            pairs = list(zip(self.inputs, inputs))
        return [(port, self._check_input(port, t)) for port, t in pairs]

    def _check_input(self, port, t):
        if not isinstance(t, hy.Tensor):
            raise TypeError(f"InferenceSession: input {port.name!r} must be a hyflow Tensor, got {type(t).__name__}")
        if t.dtype is not port.dtype and t.dtype != port.dtype:
            raise ValueError(f"InferenceSession: input {port.name!r} must have dtype {port.dtype}, got {t.dtype}")
        if len(port.shape) != t.dim():
            raise ValueError(f"InferenceSession: input {port.name!r} must have {len(port.shape)} dims "
                             f"{_shape_text(port.shape)}, got shape {tuple(t.shape)}")
        for i, (d, n) in enumerate(zip(port.shape, t.shape)):
            if isinstance(d, int) and d != n:
                raise ValueError(f"InferenceSession: input {port.name!r} must have shape {_shape_text(port.shape)}, "
                                 f"got {tuple(t.shape)} (dim {i})")
        if not t.is_cpu:
            raise ValueError(f"InferenceSession: input {port.name!r} is on {t.device}; only CPU tensors are bound")
        if t.requires_grad:
            t = t.detach()
        return t if t.is_contiguous() else t.contiguous()

    def _select_outputs(self, output_names):
        if output_names is None:
            return self.outputs
        by = {p.name: p for p in self.outputs}
        bad = [n for n in output_names if n not in by]
        if bad:
            raise ValueError(f"InferenceSession: unknown output(s) {bad}; the model's outputs are {self.output_names}")
        return [by[n] for n in output_names]

    @staticmethod
    def _known_shape(port, sizes):
        if port.shape is None or any(d is None for d in port.shape):
            return None
        shape = []
        for d in port.shape:
            if isinstance(d, str):
                if d not in sizes:
                    return None
                d = sizes[d]
            shape.append(d)
        return shape

    @staticmethod
    def _check_out(port, t, shape):
        if not isinstance(t, hy.Tensor) or t.dtype != port.dtype or not t.is_contiguous():
            raise ValueError(f"InferenceSession.run: out tensor for {port.name!r} must be a contiguous {port.dtype} "
                             f"tensor")
        if shape is not None and list(t.shape) != list(shape):
            raise ValueError(f"InferenceSession.run: out tensor for {port.name!r} must have shape {tuple(shape)}, "
                             f"got {tuple(t.shape)}")

    def __repr__(self):
        ins = ", ".join(f"{p.name}: {str(p.dtype).replace('hyflow.', '')}{_shape_text(p.shape)}" for p in self.inputs)
        outs = ", ".join(f"{p.name}: {str(p.dtype).replace('hyflow.', '')}{_shape_text(p.shape)}" for p in self.outputs)
        return f"<hy.onnx.InferenceSession ({ins}) -> ({outs})>"


def _buffer_key(tensors):
    """What a reused binding depends on, per tensor: its buffer, shape, dtype and density. A view of the same
    buffer with another shape (``y[:1]`` of an earlier ``out``) must not pass as the bound tensor."""
    return tuple([(t.data_ptr(), t.shape, t.dtype, t.is_contiguous()) for t in tensors])


def _shape_text(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
