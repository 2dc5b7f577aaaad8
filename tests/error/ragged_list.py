# expect: ValueError
# Nested lists of uneven lengths are not a tensor.
import hyflow as hy

hy.tensor([[1.0, 2.0], [3.0]])
