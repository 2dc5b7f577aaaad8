"""hyflow: tensors, ops and workflows for coupled HPC + AI science.

    import hyflow as hy
    x = hy.tensor([[1., 2.], [3., 4.]])
    y = hy.randn(2, 2, generator=hy.Generator(seed=0))
    z = (x @ y).relu().sum(dim=1, keepdim=True)
"""
import os as _os

# Developer builds: HYFLOW_BUILD_DIR=<cmake build>/pkg makes `import hyflow` use a CMake build's _C
# without installing (see docs/development.md).
_dev_build = _os.environ.get("HYFLOW_BUILD_DIR")
if _dev_build:
    __path__.insert(0, _os.path.abspath(_dev_build))  # noqa: F821 (package __path__)

# oneDNN (bf16 matmul) runs on libgomp, beside hyflow's TBB pool. libgomp's default wait policy lets its
# threads spin after each call, on the cores the next TBB loop needs: an MLP step under bf16 autocast ran
# 435 steps/s with it and 621 with PASSIVE (docs/design.md, "Kernels and threads"). libgomp reads the
# variable once, when _C loads it, so it is set for that moment only: a torch imported later keeps its own
# default. A user's own OMP_WAIT_POLICY wins.
_omp_policy_ours = "OMP_WAIT_POLICY" not in _os.environ
if _omp_policy_ours:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
try:
    from . import _C  # noqa: E402
finally:
    if _omp_policy_ours:
        del _os.environ["OMP_WAIT_POLICY"]
from ._C import Tensor, Generator, dtype, Size  # noqa: E402,F401
from ._C import bool, int32, int64, float16, bfloat16, float32, float64  # noqa: E402,F401,A004
from ._C import from_numpy, from_dlpack, get_num_threads, set_num_threads, promote_types  # noqa: E402,F401
from . import ops  # noqa: E402,F401
from ._tensor import *  # noqa: E402,F401,F403
from . import _tensor_pickle  # noqa: E402,F401 (Tensor.__reduce_ex__: pickle, copy.copy, multiprocessing)
from . import _generator_pickle  # noqa: E402,F401 (Generator.__reduce_ex__: pickle, copy, deepcopy)
from ._creation import *  # noqa: E402,F401,F403
from ._functions import *  # noqa: E402,F401,F403
from ._tensor_compat import *  # noqa: E402,F401,F403 (after _functions: its clone takes memory_format=)
from ._shape import *  # noqa: E402,F401,F403
from ._reductions import max, min  # noqa: E402,A004 (dispatch on dim/other like torch.max)
from ._sorting import sort, topk  # noqa: E402,F401 ((values, indices) named tuples like torch.sort)
from ._comparison import allclose, is_tensor, where, nonzero  # noqa: E402,F401 (torch's Python-level forms)
from ._einsum import einsum, meshgrid  # noqa: E402,F401
from ._dtype_info import finfo, iinfo  # noqa: E402,F401 (torch.finfo / torch.iinfo)
from ._default_dtype import *  # noqa: E402,F401,F403 (set_default_dtype / get_default_dtype, process-wide)
from ._complex import *  # noqa: E402,F401,F403 (after _functions: its abs handles complex tensors)
from . import fft  # noqa: E402,F401
from . import linalg  # noqa: E402,F401
from ._linalg_compat import *  # noqa: E402,F401,F403 (torch.det, torch.inverse, x.det(), ...)
from ._build_info import build_info  # noqa: E402,F401
from ._tensor_str import set_printoptions  # noqa: E402,F401 (also makes Tensor.__repr__ print like torch)
from ._extension import cmake_prefix_path, get_include  # noqa: E402,F401
from .serialization import save, load  # noqa: E402,F401
from . import data  # noqa: E402,F401
from . import utils  # noqa: E402,F401 (hy.utils.data: torch's module path of hy.data)
from . import autograd  # noqa: E402,F401
from . import nn, optim  # noqa: E402,F401
from . import compiler  # noqa: E402,F401
from .compiler import compile  # noqa: E402,F401,A004 (hy.compile, like torch.compile)
from . import backends  # noqa: E402,F401
from . import amp  # noqa: E402,F401
from ._device import device  # noqa: E402,F401 (also makes Tensor.device a hy.device)
from . import cuda, accelerator, memory  # noqa: E402,F401
from .amp import autocast, is_autocast_enabled, get_autocast_dtype  # noqa: E402,F401
from .autograd import (no_grad, enable_grad, inference_mode, set_grad_enabled, is_grad_enabled,  # noqa: E402,F401
                       is_inference_mode_enabled)

__version__ = _C._build_config()["version"]

half = float16
float = float32  # noqa: A001 (torch-style alias)
double = float64
long = int64
int = int32  # noqa: A001


# The public namespace (what `from hyflow import *` takes and the type stubs declare); internal ops are left to
# hy.ops (see _functions.py). Built from the parts' own __all__ so a name added there is exported here too.
from . import _creation as _cr, _functions as _fn, _tensor_compat as _tc, _shape as _sh  # noqa: E402
from . import _sorting as _so, _comparison as _cm, _einsum as _es, _complex as _cx  # noqa: E402
from . import _linalg_compat as _lc, _default_dtype as _dd  # noqa: E402
__all__ = (["Tensor", "Generator", "dtype", "Size", "bool", "int32", "int64", "float16", "bfloat16", "float32",
            "float64", "half", "float", "double", "long", "int", "from_numpy", "from_dlpack", "get_num_threads",
            "set_num_threads", "promote_types"]
           + _cr.__all__ + _fn.__all__ + _tc.__all__ + _sh.__all__ + _so.__all__ + _cm.__all__ + _es.__all__
           + _cx.__all__ + _lc.__all__ + _dd.__all__
           + ["max", "min", "finfo", "iinfo", "build_info", "set_printoptions", "cmake_prefix_path", "get_include",
              "save", "load",
              "compile", "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled",
              "is_inference_mode_enabled", "ops", "data", "utils", "autograd", "nn", "optim", "compiler", "backends",
              "amp", "device", "cuda", "accelerator", "memory", "autocast", "is_autocast_enabled", "get_autocast_dtype",
              "workflow", "distributed", "serialization", "fft", "linalg"])
__all__ = list(dict.fromkeys(__all__))  # a name exported by two parts once
del _cr, _fn, _tc, _sh, _so, _cm, _es, _cx, _lc, _dd


def __getattr__(name):
    # hy.workflow, hy.distributed, hy.ensemble and hy.onnx load on first use: importing hyflow stays cheap and
    # never starts MPI.
    if name in ("workflow", "distributed", "ensemble", "onnx"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hyflow' has no attribute '{name}'")
