"""``@wf.task(..., onnx=...)``: an inference task gets an hy.onnx.InferenceSession as its last argument.

The session is created once, on the task's first run (the model file may be written by an earlier task
of the same workflow, e.g. one that trains and exports), under a lock, and then shared by every instance
of the task: concurrent instances call it from several threads, which InferenceSession supports (one
IOBinding per thread; ORT's Run is thread-safe)."""
import os
import threading


def check_spec(spec, task_name):
    """Validate ``onnx=`` at declaration time: a path, model bytes, or an InferenceSession."""
    from .session import InferenceSession
    if isinstance(spec, (str, os.PathLike, bytes, bytearray, InferenceSession)):
        return spec
    raise TypeError(f"task '{task_name}': onnx must be a model path, model bytes or a hy.onnx.InferenceSession, "
                    f"got {type(spec).__name__}")


def with_session(fn, spec, task_name):
    """``fn(ctx, *inputs, session)`` as a task function ``f(ctx, *inputs)``."""
    from .session import InferenceSession
    lock = threading.Lock()
    holder = [spec if isinstance(spec, InferenceSession) else None]

    def session():
        if holder[0] is None:
            with lock:
                if holder[0] is None:
                    try:
                        holder[0] = InferenceSession(spec)
                    except (ValueError, RuntimeError) as err:
                        raise type(err)(f"task '{task_name}': {err}") from err
        return holder[0]

    def task_with_onnx_session(ctx, *inputs):
        return fn(ctx, *inputs, session())

    task_with_onnx_session.__name__ = getattr(fn, "__name__", task_name)
    task_with_onnx_session.__qualname__ = getattr(fn, "__qualname__", task_name)
    task_with_onnx_session.__doc__ = getattr(fn, "__doc__", None)
    task_with_onnx_session.session = session
    return task_with_onnx_session
