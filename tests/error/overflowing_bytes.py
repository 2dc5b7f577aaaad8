# expect: ValueError
# match: overflows int64
# The element count fits in int64 but the byte count (x8 for float64) does not.
import hyflow as hy

hy.empty(2**61, dtype=hy.float64)
