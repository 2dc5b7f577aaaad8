# expect: ValueError
# match: shape \(4, 4\) is invalid for input of size 6
import hyflow as hy

hy.ones(2, 3).reshape(4, 4)
