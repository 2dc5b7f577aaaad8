"""Zero-copy interop: DLPack with NumPy, PyTorch and a hand-built ctypes producer (capsule rules,
lifetimes, deleter called exactly once, flags, offsets, strides), the buffer protocol and __array__."""
import ctypes
import gc
import os
import subprocess
import sys
import weakref

import numpy as np
import pytest

import hyflow as hy

try:
    import torch
except ImportError:  # the NumPy, ctypes and buffer tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def capsule_name(cap):
    return repr(cap).split('"')[1]


# ---------------------------------------------------------------------------------------------------
# A DLPack producer written with ctypes, so the tests control every field and count deleter calls.
# ---------------------------------------------------------------------------------------------------
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


_PyCapsule_New = ctypes.pythonapi.PyCapsule_New
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_PyCapsule_IsValid = ctypes.pythonapi.PyCapsule_IsValid
_PyCapsule_IsValid.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_PyCapsule_GetPointer = ctypes.pythonapi.PyCapsule_GetPointer
_PyCapsule_GetPointer.restype = ctypes.c_void_p
_PyCapsule_GetPointer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_PRODUCERS = {}  # address of the managed struct -> producer, for the capsule destructor


@CAPSULE_DESTRUCTOR
def _destroy_capsule(cap):
    for name in (b"dltensor_versioned", b"dltensor"):
        if _PyCapsule_IsValid(cap, name):
            addr = _PyCapsule_GetPointer(cap, name)
            _PRODUCERS[addr].managed.deleter(addr)


class Producer:
    """Exports a NumPy array's memory through a capsule; counts deleter calls."""

    def __init__(self, array, versioned=True, flags=0, with_strides=True, byte_offset=0, version=(1, 0),
                 dtype=None, device_type=1, strides=None):
        self.array = array
        self.deleted = 0
        self.shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        st = strides if strides is not None else [s // array.itemsize for s in array.strides]
        self.strides = (ctypes.c_int64 * max(array.ndim, 1))(*st)
        code = {"f": 2, "i": 0, "b": 6, "u": 1}[array.dtype.kind]
        dl = DLTensor(ctypes.c_void_p(array.ctypes.data - byte_offset), DLDevice(device_type, 0), array.ndim,
                      DLDataType(*(dtype or (code, array.itemsize * 8, 1))),
                      self.shape, self.strides if with_strides else None, byte_offset)
        self.deleter = DELETER(self._delete)
        self.versioned = versioned
        if versioned:
            self.managed = DLManagedTensorVersioned(DLPackVersion(*version), None, self.deleter, flags, dl)
        else:
            self.managed = DLManagedTensor(dl, None, self.deleter)
        _PRODUCERS[ctypes.addressof(self.managed)] = self

    def _delete(self, ptr):
        assert ptr == ctypes.addressof(self.managed)
        self.deleted += 1

    def capsule(self):
        name = b"dltensor_versioned" if self.versioned else b"dltensor"
        return _PyCapsule_New(ctypes.addressof(self.managed), name, ctypes.cast(_destroy_capsule, ctypes.c_void_p))


@pytest.mark.parametrize("versioned", [True, False])
def test_capsule_consumed_once_and_deleter_called_once(versioned):
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    p = Producer(a, versioned=versioned)
    cap = p.capsule()
    t = hy.from_dlpack(cap)
    assert capsule_name(cap) == ("used_dltensor_versioned" if versioned else "used_dltensor")
    with pytest.raises(ValueError, match="already consumed"):
        hy.from_dlpack(cap)
    assert t.data_ptr() == a.ctypes.data
    del cap
    gc.collect()
    assert p.deleted == 0
    view = t[1:, ::2]
    del t
    gc.collect()
    assert p.deleted == 0  # a view still holds the memory
    view[0, 0] = -1.0
    assert a[1, 0] == -1.0
    del view
    gc.collect()
    assert p.deleted == 1


def test_unconsumed_or_rejected_capsule_keeps_ownership():
    a = np.arange(6, dtype=np.float32)
    p = Producer(a, strides=[-1])
    cap = p.capsule()
    with pytest.raises(ValueError, match="negative strides"):
        hy.from_dlpack(cap)
    assert capsule_name(cap) == "dltensor_versioned" and p.deleted == 0
    del cap
    gc.collect()
    assert p.deleted == 1  # the capsule's own destructor released it


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(version=(2, 0)), ValueError, "newer"),
    (dict(dtype=(1, 8, 1)), TypeError, "uint8"),
    (dict(dtype=(2, 32, 4)), TypeError, "lanes"),
    (dict(dtype=(5, 32, 1)), TypeError, "complex"),  # complex32: no such hyflow dtype
    (dict(device_type=4), NotImplementedError, "device type 4"),
] + ([] if hy.cuda.is_available() else [(dict(device_type=2), RuntimeError, "CUDA memory, but CUDA is not available")]))
def test_rejected_capsules(kwargs, error, match):
    p = Producer(np.zeros(4, dtype=np.float32), **kwargs)
    cap = p.capsule()
    with pytest.raises(error, match=match):
        hy.from_dlpack(cap)
    assert not capsule_name(cap).startswith("used")
    del cap
    gc.collect()
    assert p.deleted == 1


def test_read_only_flag_null_strides_and_byte_offset():
    a = np.arange(10, dtype=np.int32)
    p = Producer(a[2:], flags=1, with_strides=False, byte_offset=8)
    t = hy.from_dlpack(p.capsule())
    assert t.tolist() == list(range(2, 10))
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 5
    with pytest.raises(ValueError, match="read-only"):
        t.add_(1)
    assert memoryview(t).readonly
    assert not np.asarray(t).flags.writeable
    assert not np.from_dlpack(t).flags.writeable
    with pytest.raises(BufferError, match="read-only"):
        t.__dlpack__()  # legacy capsules can't say "read-only"
    del t
    gc.collect()
    assert p.deleted == 1


def test_zero_size_and_zero_d():
    for a in [np.zeros((0, 3), dtype=np.float32), np.array(3.5)]:
        p = Producer(a)
        t = hy.from_dlpack(p.capsule())
        assert t.shape == a.shape and np.array_equal(t.numpy(), a)
        del t
        gc.collect()
        assert p.deleted == 1


# ---------------------------------------------------------------------------------------------------
# The producer side: Tensor.__dlpack__ / __dlpack_device__.
# ---------------------------------------------------------------------------------------------------
def test_dlpack_arguments():
    t = hy.arange(6, dtype=hy.float32)
    assert t.__dlpack_device__() == (1, 0)
    assert capsule_name(t.__dlpack__()) == "dltensor"
    assert capsule_name(t.__dlpack__(max_version=(0, 8))) == "dltensor"
    assert capsule_name(t.__dlpack__(max_version=(1, 0))) == "dltensor_versioned"
    assert capsule_name(t.__dlpack__(max_version=(1, 3), dl_device=(1, 0))) == "dltensor_versioned"
    with pytest.raises(ValueError, match="stream"):
        t.__dlpack__(stream=1)
    with pytest.raises(BufferError):
        t.__dlpack__(dl_device=(2, 0))
    c = hy.from_dlpack(t.__dlpack__(max_version=(1, 0), copy=True))
    assert c.data_ptr() != t.data_ptr() and c.tolist() == t.tolist()


def test_unconsumed_export_releases_memory():
    a = np.arange(5.0)
    ref = weakref.ref(a)
    t = hy.from_numpy(a)
    del a
    cap = t.__dlpack__(max_version=(1, 0))
    del t
    gc.collect()
    assert ref() is not None  # the capsule holds the tensor
    del cap
    gc.collect()
    assert ref() is None


def test_hyflow_round_trip_keeps_storage():
    t = hy.arange(6).reshape(2, 3)
    for u in [hy.from_dlpack(t), hy.from_dlpack(t.__dlpack__()), hy.from_dlpack(t.__dlpack__(max_version=(1, 0)))]:
        assert u.untyped_storage_ptr() == t.untyped_storage_ptr()
        v = t._version
        u[0, 0] = 10
        assert t[0, 0].item() == 10 and t._version > v  # one storage, one version counter
    assert hy.from_dlpack(t, copy=True).untyped_storage_ptr() != t.untyped_storage_ptr()
    with pytest.raises(TypeError, match="__dlpack__"):
        hy.from_dlpack([1, 2, 3])


# ---------------------------------------------------------------------------------------------------
# NumPy.
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "float32", "float64"])
def test_numpy_round_trip(dtype):
    a = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    t = hy.from_dlpack(a)
    assert t.dtype == getattr(hy, dtype) and t.data_ptr() == a.ctypes.data
    b = np.from_dlpack(t)
    assert b.ctypes.data == a.ctypes.data and b.dtype == a.dtype
    t[1, 1] = 1
    assert a[1, 1] == 1 and b[1, 1] == 1
    a[2, 3] = 0
    assert t[2, 3].item() == 0


def test_numpy_lifetimes():
    a = np.arange(8.0)
    ref = weakref.ref(a)
    t = hy.from_dlpack(a)
    del a
    gc.collect()
    assert ref() is not None
    assert t.tolist() == list(range(8))
    v = t[2:5]
    del t
    gc.collect()
    assert v.tolist() == [2, 3, 4]
    del v
    gc.collect()
    assert ref() is None  # NumPy's deleter ran once the last hyflow view died

    t = hy.arange(4, dtype=hy.float64)
    b = np.from_dlpack(t)
    del t
    gc.collect()
    b[0] = 5  # the array keeps the tensor's memory alive
    assert b.tolist() == [5, 1, 2, 3]


def test_numpy_non_contiguous():
    a = np.arange(60, dtype=np.float32).reshape(6, 10)
    for view in [a[::2, 1::3], a.T, a[:, 4]]:
        t = hy.from_dlpack(view)
        assert t.stride() == tuple(s // 4 for s in view.strides)
        np.testing.assert_array_equal(t.numpy(), view)
    t = hy.from_numpy(a)
    for view in [t[::2, 1::3], t.T, t[:, 4], t[1:3]]:
        b = np.from_dlpack(view)
        np.testing.assert_array_equal(b, view.numpy())
        assert b.ctypes.data == view.data_ptr()
    with pytest.raises(ValueError, match="negative strides"):
        hy.from_dlpack(a[::-1])


def test_numpy_read_only_array():
    a = np.arange(4.0)
    a.flags.writeable = False
    t = hy.from_dlpack(a)
    assert t.data_ptr() == a.ctypes.data
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1.0
    assert not np.from_dlpack(t).flags.writeable


# ---------------------------------------------------------------------------------------------------
# PyTorch.
# ---------------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"])
def test_torch_round_trip(dtype):
    x = (torch.arange(12) % 3).to(getattr(torch, dtype)).reshape(3, 4)
    t = hy.from_dlpack(x)
    assert t.dtype == getattr(hy, dtype) and t.data_ptr() == x.data_ptr()
    assert t.to(hy.float64).tolist() == x.double().tolist()
    y = torch.from_dlpack(t)
    assert y.dtype == x.dtype and y.data_ptr() == x.data_ptr()
    t[1, 1] = 1
    assert x[1, 1].item() == 1 and y[1, 1].item() == 1
    x[2, 3] = 0
    assert t[2, 3].item() == 0


@needs_torch
def test_torch_legacy_capsules():
    x = torch.arange(5.0)
    t = hy.from_dlpack(torch.utils.dlpack.to_dlpack(x))
    assert t.data_ptr() == x.data_ptr()
    y = torch.utils.dlpack.from_dlpack(t.__dlpack__())
    assert y.data_ptr() == x.data_ptr()


@needs_torch
def test_torch_lifetimes():
    x = torch.arange(10.0)
    t = hy.from_dlpack(x[2:])
    del x
    gc.collect()
    t[0] = 42.0
    assert t.tolist() == [42.0] + [float(i) for i in range(3, 10)]

    t = hy.arange(6, dtype=hy.float32)
    y = torch.from_dlpack(t)
    del t
    gc.collect()
    y += 1
    assert y.tolist() == [1, 2, 3, 4, 5, 6]
    back = hy.from_dlpack(y)  # hyflow -> torch -> hyflow
    del y
    gc.collect()
    assert back.tolist() == [1, 2, 3, 4, 5, 6]


@needs_torch
def test_torch_non_contiguous():
    x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    for v in [x.t(), x[:, ::2], x[1:, 3], x.unsqueeze(1).expand(4, 3, 6)]:
        t = hy.from_dlpack(v)
        assert t.stride() == v.stride() and t.data_ptr() == v.data_ptr()
        assert t.tolist() == v.tolist()
    t = hy.from_dlpack(x)
    for v in [t.T, t[:, ::2], t[1:, 3]]:
        y = torch.from_dlpack(v)
        assert y.stride() == v.stride() and y.data_ptr() == v.data_ptr()
        assert y.tolist() == v.tolist()


# ---------------------------------------------------------------------------------------------------
# Buffer protocol and __array__.
# ---------------------------------------------------------------------------------------------------
def test_buffer_protocol():
    t = hy.arange(12, dtype=hy.float32).reshape(3, 4)
    m = memoryview(t)
    assert (m.format, m.shape, m.strides, m.readonly) == ("f", (3, 4), (16, 4), False)
    m[1, 2] = 99.0
    assert t[1, 2].item() == 99.0
    s = memoryview(t[:, ::2])
    assert s.shape == (3, 2) and s.strides == (16, 8) and s.tolist()[1] == [4.0, 99.0]
    formats = {"bool": "?", "int32": "i", "int64": "q", "float16": "e", "float64": "d"}
    for name, fmt in formats.items():
        assert memoryview(hy.zeros(2, dtype=getattr(hy, name))).format == fmt
    del t
    gc.collect()
    assert m.tolist()[1][2] == 99.0  # the memoryview keeps the tensor alive


def test_buffer_protocol_bfloat16_is_refused():
    with pytest.raises(BufferError) as err:
        memoryview(hy.zeros(3, dtype=hy.bfloat16))
    assert "bfloat16" in str(err.value.__cause__)


def test_array_is_zero_copy_with_numpy2_copy_semantics():
    t = hy.arange(6, dtype=hy.float32).reshape(2, 3)
    assert np.asarray(t).ctypes.data == t.data_ptr()
    assert t.__array__().ctypes.data == t.data_ptr()
    assert t.__array__(copy=False).ctypes.data == t.data_ptr()
    assert t.__array__(dtype=np.float32, copy=False).ctypes.data == t.data_ptr()
    assert t.__array__(copy=True).ctypes.data != t.data_ptr()
    assert np.array(t).ctypes.data != t.data_ptr()
    d = t.__array__(dtype=np.float64)
    assert d.dtype == np.float64 and d.tolist() == t.tolist()
    with pytest.raises(ValueError, match="copy"):
        t.__array__(dtype=np.float64, copy=False)
    with pytest.raises(ValueError):
        np.asarray(t, dtype=np.float64, copy=False)
    b = hy.arange(3, dtype=hy.bfloat16)
    with pytest.raises(TypeError, match="bfloat16"):
        b.__array__()
    with pytest.raises(ValueError, match="copy"):
        b.__array__(dtype=np.float32, copy=False)
    assert np.asarray(b, dtype=np.float32).tolist() == [0, 1, 2]


NUMPY_GRAD_MSG = r"Can't call numpy\(\) on Tensor that requires grad"


def test_numpy_of_tensor_requiring_grad_raises_like_torch():
    # Writing through the shared array bypassed the version counter: backward then used the written
    # value and returned a wrong gradient. Every exporting path refuses, as torch does.
    w = hy.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=NUMPY_GRAD_MSG + r"\. Use tensor\.detach\(\)\.numpy\(\) instead"):
        w.numpy()
    with pytest.raises(RuntimeError, match=NUMPY_GRAD_MSG):
        np.asarray(w)  # NumPy tries the buffer protocol (refused) and then __array__
    with pytest.raises(RuntimeError, match=NUMPY_GRAD_MSG):
        np.array(w, dtype=np.float64)
    with pytest.raises(BufferError):
        memoryview(w)
    with pytest.raises(RuntimeError, match=r"Can't call __dlpack__\(\) on Tensor that requires grad"):
        np.from_dlpack(w)
    y = w * 2  # a non-leaf result requires grad too
    with pytest.raises(RuntimeError, match=NUMPY_GRAD_MSG):
        y.numpy()
    # Reading values stays fine, and detach() says "outside autograd" explicitly.
    assert w.tolist() == [1.0, 2.0, 3.0] and w.sum().item() == 6.0
    assert str(w).startswith("tensor(") and "requires_grad=True" in repr(w)
    d = w.detach().numpy()
    assert d.flags.writeable and np.shares_memory(d, w.detach().numpy())
    forced = w.numpy(force=True)  # torch's force=True: detach().numpy()
    np.testing.assert_array_equal(forced, [1.0, 2.0, 3.0])
    with hy.no_grad():
        np.testing.assert_array_equal((w * 1).numpy(), [1.0, 2.0, 3.0])  # no grad recorded: exportable


@needs_torch
def test_numpy_requires_grad_matches_torch():
    tw = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as te:
        tw.numpy()
    with pytest.raises(RuntimeError) as he:
        hy.ones(2, requires_grad=True).numpy()
    assert str(he.value) == str(te.value)


def test_array_priority_makes_numpy_defer_to_tensor_operators():
    t = hy.ones(3)
    assert hy.Tensor.__array_priority__ > 0
    a = np.ones(3, dtype=np.float32)
    assert a.__add__(t) is NotImplemented and a.__mul__(t) is NotImplemented


def test_np_dtype_of_hyflow_dtypes():
    """np.dtype(hy.float32) is np.float32's dtype (NumPy reads the .dtype attribute); bfloat16 has none."""
    for name in ("bool", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128"):
        dt = getattr(hy, name)
        assert np.dtype(dt) == np.dtype(name) == dt.dtype, name
        assert np.asarray(hy.zeros(2, dtype=dt)).dtype == np.dtype(dt)
        assert np.zeros(2, dtype=dt).dtype == np.dtype(name)
    with pytest.raises(TypeError, match="bfloat16 has no NumPy dtype"):
        np.dtype(hy.bfloat16)


def test_dask_array_from_hyflow_tensor():
    da = pytest.importorskip("dask.array")
    t = hy.arange(12.0).reshape(3, 4)
    a = da.from_array(t, chunks=2)
    assert a.shape == (3, 4) and np.dtype(a.dtype) == np.float32
    np.testing.assert_array_equal(a.compute(), t.numpy())
    # reductions run NumPy's functions on dask's empty "meta" block: meta=np.ndarray makes it a NumPy one
    a = da.from_array(t, chunks=2, meta=np.ndarray)
    assert float(a.sum().compute()) == 66.0
    np.testing.assert_array_equal(a.mean(axis=0).compute(), [4, 5, 6, 7])


@needs_torch
def test_survives_interpreter_shutdown():
    """Tensors holding NumPy/PyTorch memory (and unconsumed capsules) alive at exit must not crash."""
    code = (
        "import numpy as np, torch, hyflow as hy\n"
        "a = hy.from_dlpack(np.arange(5.0))\n"
        "b = hy.from_dlpack(torch.arange(5.0))\n"
        "c = torch.from_dlpack(hy.arange(5))\n"
        "d = np.from_dlpack(hy.from_numpy(np.ones(3)))\n"
        "e = hy.arange(3).__dlpack__(max_version=(1, 0))\n"
        "f = hy.from_numpy(np.zeros(2)).__dlpack__()\n"
        "import sys; sys.modules['__main__'].keep = [a, b, c, d, e, f]\n"
        "print('ok')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# ---------------------------------------------------------------------------------------------------
# Bool memory whose bytes are not 0/1 (a uint8 array viewed as bool): refused by the zero-copy importers,
# normalised by the copying ones; valid bools stay zero-copy.
# ---------------------------------------------------------------------------------------------------
def test_bool_bytes_other_than_0_and_1_are_refused_or_normalised():
    raw = np.array([[0, 1, 2], [255, 0, 1]], np.uint8)
    bad = raw.view(np.bool_)
    with pytest.raises(ValueError, match=r"from_numpy: .*byte other than 0 and 1 \(element 2"):
        hy.from_numpy(bad)
    with pytest.raises(ValueError, match="from_dlpack: .*byte other than 0 and 1"):
        hy.from_dlpack(bad)
    with pytest.raises(ValueError, match="from_numpy"):
        hy.from_numpy(bad[:, 1:])  # a strided view is scanned too
    assert hy.from_numpy(bad[:1, :2]).tolist() == [[False, True]]  # this strided view holds only 0/1 bytes
    for t in (hy.tensor(bad), hy.as_tensor(bad)):
        assert t.tolist() == [[False, True, True], [True, False, True]]
        assert t.sum().item() == 4 and not t.all().item() and t.logical_not().sum().item() == 2
    good = np.array([True, False, True])
    t = hy.from_numpy(good)
    assert t.data_ptr() == good.ctypes.data and hy.as_tensor(good).data_ptr() == good.ctypes.data
    assert hy.from_numpy(np.zeros((0, 3), np.bool_)).shape == (0, 3)


@needs_torch
def test_torch_bool_view_with_bad_bytes_is_refused_by_from_dlpack():
    x = torch.tensor([0, 3, 1], dtype=torch.uint8).view(torch.bool)
    with pytest.raises(ValueError, match="from_dlpack"):
        hy.from_dlpack(x)
    y = torch.tensor([True, False])
    assert hy.from_dlpack(y).data_ptr() == y.data_ptr()  # still zero-copy
