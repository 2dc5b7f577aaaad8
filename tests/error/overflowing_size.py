# expect: ValueError
# match: overflows int64
# 2**40 * 2**40 elements does not fit in int64: an overflow, not a giant allocation or a crash.
import hyflow as hy

hy.zeros(2**40, 2**40)
