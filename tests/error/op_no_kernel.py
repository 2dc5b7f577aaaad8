# expect: NotImplementedError
# match: op 'kernel_less' has no kernel for device 'cpu'
import hyflow as hy

hy.ops.define("kernel_less(Tensor x) -> Tensor")
hy.ops.kernel_less(hy.ones(2))
