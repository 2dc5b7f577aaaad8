# expect: IndexError
# match: dim 5 is out of range
# A dim past the tensor's rank is an IndexError naming the valid range.
import hyflow as hy

hy.ones(2, 3).transpose(0, 5)
