"""Native code for fusion groups (docs/compiler.md, "Codegen"), one job per file:

* ``lowering``     — one elementwise node: its scalar expression variant, compute type, parameters;
* ``kernel_source``— one elementwise group's C++ function (the ABI of csrc/compiler/kernel_launch.h);
* ``row_kernel``   — reductions over trailing dims and the elementwise ops around them, one loop nest per row;
* ``stencil_kernel``— elementwise groups reading rolls / periodic Laplacians as index arithmetic;
* ``row_ops``      — softmax / log_softmax (``row:`` in the op table) expanded for the row kernels;
* ``full_reduction_kernel`` — chains into a reduction over every dim, blocks across threads;
* ``column_reduction_kernel`` — chains into a reduction over leading dims, column blocks across threads;
* ``gemm_epilogue``— which GEMMs run ahead of a compiled group in one launch (csrc/compiler/gemm_epilogue.h);
* ``plan``         — which groups of a graph compile, where each runs, why others do not;
* ``toolchain``    — the system C++ compiler, the disk cache, dlopen;
* ``build``        — a graph's groups into one loaded module and their launchers.
"""
from .build import GraphKernels, build_graph_kernels
from .lowering import NotLowerable, lower_node
from .plan import GroupPlan, codegen_mode, plan_graph
from .toolchain import ToolchainError, cache_dir, load_module

__all__ = ["GraphKernels", "build_graph_kernels", "NotLowerable", "lower_node", "GroupPlan", "codegen_mode",
           "plan_graph", "ToolchainError", "cache_dir", "load_module"]
