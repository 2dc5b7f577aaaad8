# expect: TypeError
# match: complex32
# An unsupported dtype name says which dtypes exist.
import hyflow as hy

hy.zeros(2, dtype="complex32")
