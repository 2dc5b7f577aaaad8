"""Pickling tensors: pickle.dumps(t), copy.copy(t), multiprocessing queues, DataLoader workers, mpi4py's comm.bcast.

A tensor pickles as (dtype, shape, its elements' raw bytes, requires_grad, its Python class): the payload is
plain data, so unpickling a tensor runs no code of the sender's choosing beyond this module's rebuild function.
A view pickles as a tensor of its own elements only (never the whole storage it looks into), and every
unpickled tensor is a new, contiguous autograd leaf: its history and .grad stay behind, as in torch.
"""
import ctypes
import sys

import numpy as np

from . import _C
from ._C import Tensor

__all__ = []


def _raw_bytes(t):
    t = t.detach().contiguous()
    nbytes = t.numel() * t.element_size()
    return ctypes.string_at(t.data_ptr(), nbytes) if nbytes else b""


def _reduce_ex(self, protocol):
    if not self.is_cpu:
        raise RuntimeError(f"pickling a tensor on {self.device} is not supported; move it with .cpu() first")
    return (_rebuild_tensor, (self.dtype, tuple(self.shape), _raw_bytes(self), sys.byteorder, self.requires_grad,
                              type(self)))


def _rebuild_tensor(dtype, shape, data, byteorder, requires_grad, cls=Tensor):
    if not isinstance(dtype, _C.dtype):
        raise TypeError(f"unpickling a tensor: dtype must be a hyflow dtype, got {type(dtype).__name__}")
    if not isinstance(cls, type) or not issubclass(cls, Tensor):
        raise TypeError(f"unpickling a tensor: {cls!r} is not a hyflow Tensor class")
    t = _C.ops.empty(list(shape), dtype=dtype)
    nbytes = t.numel() * t.element_size()
    if len(data) != nbytes:
        raise ValueError(f"unpickling a tensor of shape {tuple(shape)} and dtype {dtype}: expected {nbytes} bytes "
                         f"of data, got {len(data)}")
    if nbytes:
        ctypes.memmove(t.data_ptr(), bytes(data), nbytes)
        if byteorder != sys.byteorder and t.element_size() > 1:
            # written on a machine of the other endianness (e.g. an MPI job across architectures)
            raw = (ctypes.c_char * nbytes).from_address(t.data_ptr())
            part = t.element_size() // 2 if t.dtype.is_complex else t.element_size()  # complex: swap each part
            np.frombuffer(raw, dtype=np.dtype(f"u{part}")).byteswap(inplace=True)
    if cls is not Tensor:
        from .nn.parameter import Parameter
        if issubclass(cls, Parameter):
            return cls(t, requires_grad)
        t.__class__ = cls  # a Python subclass keeps the C++ layout (see Parameter)
    if requires_grad:
        t.requires_grad_(True)
    return t


Tensor.__reduce_ex__ = _reduce_ex
