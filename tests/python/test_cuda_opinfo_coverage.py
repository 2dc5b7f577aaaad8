"""Every op with a CUDA kernel is reached by a GPU test: the OpInfo differential of cuda/test_cuda_ops.py, or
one of the named files for the ops without an OpInfo. Read from the op table, so it runs (and fails when a
new CUDA kernel has no test) on machines without a GPU too."""
import importlib
import pathlib
import pkgutil
import re

import yaml

import opinfo

TABLE = pathlib.Path(__file__).resolve().parents[2] / "csrc" / "ops" / "table"

# Ops without an OpInfo: the GPU test file that covers each instead, and the spelling that file calls it by.
TESTED_ELSEWHERE = {
    "empty": ("cuda/test_cuda_runtime.py", "hy.empty("), "zeros": ("cuda/test_cuda_runtime.py", "hy.zeros("),
    "ones": ("cuda/test_cuda_runtime.py", "hy.ones("), "full": ("cuda/test_cuda_out_and_fill.py", "full("),
    "clone": ("cuda/test_cuda_elementwise_extra.py", ".clone()"),
    "to_dtype": ("cuda/test_cuda_out_and_fill.py", ".to(hy."), "copy_": ("cuda/test_cuda_indexing.py", "copy_("),
    "fill_": ("cuda/test_cuda_out_and_fill.py", "fill_("), "zero_": ("cuda/test_cuda_complex.py", ".zero_()"),
    "rand": ("cuda/test_cuda_random.py", "hy.rand("), "randn": ("cuda/test_cuda_random.py", "hy.randn("),
    "uniform_": ("cuda/test_cuda_random.py", "uniform_("), "normal_": ("cuda/test_cuda_random.py", "normal_("),
    "randint": ("cuda/test_cuda_random.py", "randint("),
    "_fused_sgd_": ("cuda/test_cuda_optim.py", "optim.SGD"), "_fused_adam_": ("cuda/test_cuda_optim.py", "optim.Adam"),
    "arange": ("cuda/test_cuda_elementwise_extra.py", "arange("),
    "linspace": ("cuda/test_cuda_elementwise_extra.py", "linspace("),
    "eye": ("cuda/test_cuda_elementwise_extra.py", "eye("), "complex": ("cuda/test_cuda_complex.py", "hy.complex("),
    "_fft_c2c_backward": ("cuda/test_cuda_fft.py", "backward()"),
    "_fft_r2c_backward": ("cuda/test_cuda_fft.py", "backward()"),
    "_fft_c2r_backward": ("cuda/test_cuda_fft.py", "backward()"),
    "_cic_position_grad": ("cuda/test_cuda_index_sort_particle.py", "test_cic_gradients_on_cuda"),
    "_interp_cic_field_grad": ("cuda/test_cuda_index_sort_particle.py", "test_cic_gradients_on_cuda"),
    "layer_norm_backward": ("cuda/test_cuda_conv_stencil.py", "layer_norm("),
}


def cuda_ops():
    names = set()
    for table in TABLE.glob("*.yaml"):
        for entry in yaml.safe_load(table.read_text()) or []:
            if "cuda" in (entry.get("kernels") or {}):
                names.add(re.match(r"\s*(\w+)\(", entry["schema"]).group(1))
    return names


def test_every_cuda_op_has_an_opinfo_or_a_named_gpu_test():
    with_opinfo = set()
    for mod in pkgutil.iter_modules(opinfo.__path__):
        with_opinfo |= {o.name for o in importlib.import_module(f"opinfo.{mod.name}").OPS}
    missing = cuda_ops() - with_opinfo - set(TESTED_ELSEWHERE)
    assert not missing, f"CUDA kernels without an OpInfo or a GPU test named here: {sorted(missing)}"
    here = pathlib.Path(__file__).resolve().parent
    for op, (path, spelling) in TESTED_ELSEWHERE.items():
        assert spelling in (here / path).read_text(), f"{op}: {path} does not call {spelling!r}"
