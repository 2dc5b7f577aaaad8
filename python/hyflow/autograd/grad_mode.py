"""Grad mode: no_grad, enable_grad, inference_mode, set_grad_enabled (context managers and decorators)."""
import functools

from .. import _C

_ag = _C._autograd

__all__ = ["no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled",
           "is_inference_mode_enabled"]


def is_grad_enabled():
    """Whether ops on this thread record the autograd graph."""
    return _ag.is_grad_enabled()


def is_inference_mode_enabled():
    return _ag.is_inference_mode_enabled()


class _GradModeContext:
    """Base of the grad-mode context managers; instances also decorate functions."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args = ()

    def clone(self):
        return self.__class__(*self._args)


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block (or the decorated function)."""

    def __enter__(self):
        self._prev = _ag.is_grad_enabled()
        _ag.set_grad_enabled(False)

    def __exit__(self, *exc):
        _ag.set_grad_enabled(self._prev)
        return False


class enable_grad(_GradModeContext):
    """Re-enable gradient recording inside a no_grad block."""

    def __enter__(self):
        self._prev = _ag.is_grad_enabled()
        _ag.set_grad_enabled(True)

    def __exit__(self, *exc):
        _ag.set_grad_enabled(self._prev)
        return False


class set_grad_enabled(_GradModeContext):
    """set_grad_enabled(mode): a function call that sets grad mode, or a context manager restoring it."""

    def __init__(self, mode):
        self._args = (bool(mode),)
        self._prev = _ag.is_grad_enabled()
        _ag.set_grad_enabled(bool(mode))

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _ag.set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        _ag.set_grad_enabled(self._prev)  # used as a decorator: the constructor must not leak the mode
        return super().__call__(fn)


class inference_mode(_GradModeContext):
    """No recording, for inference. In hyflow this is no_grad plus is_inference_mode_enabled() == True;
    tensors made inside are ordinary tensors (PyTorch's inference-tensor restrictions are not modelled)."""

    def __init__(self, mode=True):
        self._args = (bool(mode),)
        self._mode = bool(mode)

    def __enter__(self):
        self._prev = (_ag.is_grad_enabled(), _ag.is_inference_mode_enabled())
        if self._mode:
            _ag.set_grad_enabled(False)
            _ag.set_inference_mode_enabled(True)

    def __exit__(self, *exc):
        _ag.set_grad_enabled(self._prev[0])
        _ag.set_inference_mode_enabled(self._prev[1])
        return False
