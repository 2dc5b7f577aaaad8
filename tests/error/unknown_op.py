# expect: AttributeError
# match: no op named 'frobnicate'
import hyflow as hy

hy.ops.frobnicate(hy.ones(2))
