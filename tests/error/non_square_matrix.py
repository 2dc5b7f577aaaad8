# expect: ValueError
# match: linalg\.inv: A must be batches of square matrices, but they are 2 by 3 matrices
# A decomposition of a non-square matrix names the argument and its shape.
import hyflow as hy

hy.linalg.inv(hy.ones(2, 3))
