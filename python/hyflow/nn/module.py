"""nn.Module: the base class of layers and models, with torch.nn.Module's API."""
from collections import OrderedDict

import numpy as np

from .. import _C
from .._C import Tensor
from ..autograd import no_grad, zero_grads
from .hooks import RemovableHandle, _BackwardHookCall
from .parameter import Parameter

__all__ = ["Module"]


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _type_name(obj):
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _as_tensor(src):
    """(tensor, None) for a hyflow Tensor or any array with __dlpack__/__array__ (a torch state dict, NumPy
    arrays: a migrating user's checkpoint), else (None, why). Foreign arrays are viewed, not copied: the caller
    copies them into the parameter."""
    if isinstance(src, Tensor):
        return src, None
    if hasattr(src, "detach") and getattr(src, "requires_grad", False):
        src = src.detach()  # a torch parameter refuses export while it requires grad
    errors = []
    if hasattr(src, "__dlpack__"):
        try:
            return _C.from_dlpack(src), None
        except Exception as e:  # noqa: BLE001 - e.g. a dtype DLPack or hyflow lacks; __array__ may still work
            errors.append(f"__dlpack__: {e}")
    if hasattr(src, "__array__"):
        try:
            # (asarray first: older __array__ implementations, torch's among them, take no copy= argument)
            return _C.from_numpy(np.array(np.asarray(src), copy=True, order="C")), None
        except Exception as e:  # noqa: BLE001
            errors.append(f"__array__: {e}")
    why = f" ({'; '.join(errors)})" if errors else ""
    return None, f"expected a Tensor or an array with __dlpack__/__array__, got {_type_name(src)}{why}"


class Module:
    """Base class of all layers: subclasses assign Parameters, buffers and sub-Modules as attributes."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for store in _HOOK_STORES:
            object.__setattr__(self, store, OrderedDict())

    # ---- forward -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_backward_hooks")
                or d.get("_backward_pre_hooks")):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        # torch's order: forward pre-hooks (may replace the inputs), the backward-hook identity node on the
        # inputs, forward, forward hooks (may replace the output), the identity node on the outputs
        d = self.__dict__
        for hook_id, hook in list(d["_forward_pre_hooks"].items()):
            if hook_id in d["_forward_hooks_with_kwargs"]:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook registered with with_kwargs=True must return None "
                                           f"or an (args, kwargs) tuple, got {type(result).__name__}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        call = None
        if d["_backward_hooks"] or d["_backward_pre_hooks"]:
            call = _BackwardHookCall(self, d["_backward_hooks"], d["_backward_pre_hooks"])
            args = call.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in list(d["_forward_hooks"].items()):
            if hook_id in d["_forward_hooks_with_kwargs"]:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        return output if call is None else call.wrap_outputs(output)

    # ---- hooks ---------------------------------------------------------------------------------
    def _add_hook(self, store, hook, prepend, with_kwargs=False):
        self._check_init()
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got {type(hook).__name__}")
        hooks = self._hook_store(store)
        handle = RemovableHandle(hooks, self._hook_store("_forward_hooks_with_kwargs"))
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hook_store("_forward_hooks_with_kwargs")[handle.id] = True
        return handle

    def _hook_store(self, store):
        # modules unpickled or built by code older than hooks have no stores yet
        if store not in self.__dict__:
            object.__setattr__(self, store, OrderedDict())
        return self.__dict__[store]

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args (a non-tuple is wrapped in one), called before forward.
        with_kwargs=True: hook(module, args, kwargs) -> None or (args, kwargs). Returns a RemovableHandle."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args, output) -> None or a replacement output, called after forward.
        with_kwargs=True: hook(module, args, kwargs, output). Returns a RemovableHandle."""
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or a replacement grad_input, called once the gradients
        with respect to the module's tensor inputs are computed (tuples, None for inputs that need none)."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or a replacement grad_output, called before the module's backward."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        raise NotImplementedError("register_backward_hook (deprecated in torch) is not supported; use "
                                  "register_full_backward_hook")

    # ---- registration --------------------------------------------------------------------------
    def _check_init(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign to {type(self).__name__} before Module.__init__() was called")

    def register_parameter(self, name, param):
        self._check_init()
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_parameter(): bad parameter name {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter(): '{name}' must be a Parameter or None, got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        self._check_init()
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer(): bad buffer name {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer(): '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        self._check_init()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module(): '{name}' must be a Module or None, got {type(module).__name__}")
        if not isinstance(name, str) or "." in name or name == "":
            raise KeyError(f"add_module(): bad module name {name!r}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init()
            d["_buffers"].pop(name, None)
            d["_modules"].pop(name, None)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._check_init()
            d["_parameters"].pop(name, None)
            d["_buffers"].pop(name, None)
            self.add_module(name, value)
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                "(hyflow.nn.Parameter or None expected)")
            d["_parameters"][name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' "
                                "(hyflow.nn.Module or None expected)")
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' (Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                self.__dict__["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ---- traversal -----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no submodule '{part}' (looking up '{target}')")
            m = m._modules[part]
        return m

    def get_parameter(self, target):
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._parameters:
            raise AttributeError(f"{type(m).__name__} has no parameter '{name}'")
        return m._parameters[name]

    # ---- modes and utilities -------------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("train(): mode must be a bool")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_tensors(self, fn):
        """Replace every parameter's data, its grad and every buffer by fn(t), keeping Parameter identity."""
        with no_grad():
            for m in self.modules():
                for name, p in m._parameters.items():
                    if p is None:
                        continue
                    new = fn(p.detach())
                    if new.dtype == p.dtype and new.device == p.device:
                        continue
                    np_ = Parameter(new, requires_grad=p.requires_grad)
                    if p.grad is not None:
                        np_.grad = fn(p.grad)
                    m._parameters[name] = np_
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = fn(b)
        return self

    def to(self, *args, dtype=None, device=None):
        """to(dtype) converts floating-point parameters and buffers (integer buffers are kept); to(device) moves
        every parameter, gradient and buffer (a moved parameter is a new Parameter: build optimizers after)."""
        for a in args:
            if isinstance(a, _C.dtype):
                dtype = a
            elif isinstance(a, str) or type(a).__name__ == "device":
                device = str(a)
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, str(a.device)
        if dtype is not None and dtype not in (_C.float16, _C.bfloat16, _C.float32, _C.float64):
            raise TypeError(f"Module.to() only accepts floating point dtypes, got {dtype}")
        if device is None and dtype is None:
            return self

        def convert(t):
            if device is not None:
                t = t.to(device)  # a device the build cannot reach raises naming why (docs/cuda.md)
            return t.to(dtype) if dtype is not None and t.is_floating_point() else t
        return self._apply_tensors(convert)

    def float(self):
        return self.to(_C.float32)

    def double(self):
        return self.to(_C.float64)

    def half(self):
        return self.to(_C.float16)

    def bfloat16(self):
        return self.to(_C.bfloat16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else str(device)))

    # ---- state dict ----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy tensors into the parameters and buffers; strict=True raises on missing/unexpected keys.

        Returns (missing_keys, unexpected_keys) as a named tuple like torch.
        """
        expected = {}
        for mprefix, m in self.named_modules(remove_duplicate=False):
            pre = mprefix + "." if mprefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    expected[pre + name] = (m, "_parameters", name)
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers:
                    expected[pre + name] = (m, "_buffers", name)
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        errors = []
        if strict and (missing or unexpected):
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        for key, (m, store, name) in expected.items():
            if key not in state_dict:
                continue
            src, problem = _as_tensor(state_dict[key])
            dst = getattr(m, store)[name]
            if problem is not None:
                errors.append(f'While copying the parameter named "{key}", {problem}.')
                continue
            if tuple(src.shape) != tuple(dst.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(src.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(dst.shape)}.")
                continue
            if not errors:
                with no_grad():
                    dst.copy_(src)
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ---- repr ----------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        child_lines = []
        for name, m in self._modules.items():
            child_lines.append("(" + name + "): " + _addindent(repr(m), 2))
        main = type(self).__name__ + "("
        if lines or child_lines:
            if len(lines) == 1 and not child_lines:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines + child_lines) + "\n"
        return main + ")"


_HOOK_STORES = ("_forward_pre_hooks", "_forward_hooks", "_forward_hooks_with_kwargs", "_backward_hooks",
                "_backward_pre_hooks")


class _IncompatibleKeys(tuple):
    def __new__(cls, missing_keys, unexpected_keys):
        obj = super().__new__(cls, (missing_keys, unexpected_keys))
        obj.missing_keys, obj.unexpected_keys = missing_keys, unexpected_keys
        return obj

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"
