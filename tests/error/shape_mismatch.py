# expect: ValueError
# match: \(2, 3\) and \(4,\) cannot be broadcast
# Elementwise ops on shapes that do not broadcast name both shapes.
import hyflow as hy

hy.ones(2, 3) + hy.ones(4)
