# expect: ValueError
# match: negative dimension -3
# A negative size must be refused before anything is allocated.
import hyflow as hy

hy.empty(2, -3)
