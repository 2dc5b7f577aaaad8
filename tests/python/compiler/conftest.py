import pytest

import hyflow as hy


@pytest.fixture
def compiled_backward_always():
    """Regions that require grad become one compiled autograd node wherever they can, also where the
    default policy ("auto") would record their ops one by one (an MLP): for tests of that node's
    machinery — GEMM epilogues in the backward, symbolic batch sizes, module training."""
    before = hy.compiler.backward_policy
    hy.compiler.set_backward_policy("always")
    yield
    hy.compiler.set_backward_policy(before)
