# expect: IndexError
# match: index 4 is out of bounds
import hyflow as hy

hy.ones(4, 2).select(0, 4)
