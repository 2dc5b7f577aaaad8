# expect: LinAlgError
# match: linalg\.solve: \(Batch element 1\): The solver failed because the input matrix is singular
# A singular matrix in a batch is named by its index (a RuntimeError subclass, as torch's).
import hyflow as hy

A = hy.stack([hy.eye(3), hy.zeros(3, 3)])
hy.linalg.solve(A, hy.ones(2, 3))
