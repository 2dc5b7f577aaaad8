"""``torch.backends.cuda``: ``is_built()`` and the ``matmul`` precision flags.

``matmul.allow_tf32`` (default False, as torch) and the reduced-precision-reduction flags are stored and
never read: hyflow's CUDA GEMMs use cuBLAS's default math (no TF32) and its CPU GEMMs have no such mode."""
from .. import _C


def is_built():
    """True when this hyflow was compiled with its CUDA backend (a GPU need not be present: see hy.cuda)."""
    return bool(_C._cuda_status()["built"])


class _MatmulFlags:
    """``hy.backends.cuda.matmul``: settable flags with torch's defaults; hyflow reads none of them."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self):
        return (f"hyflow.backends.cuda.matmul(allow_tf32={self.allow_tf32}, allow_fp16_reduced_precision_"
                f"reduction={self.allow_fp16_reduced_precision_reduction}, allow_bf16_reduced_precision_"
                f"reduction={self.allow_bf16_reduced_precision_reduction})")


matmul = _MatmulFlags()
