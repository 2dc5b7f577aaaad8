# expect: ValueError
# match: item
# item() is for one-element tensors only.
import hyflow as hy

hy.ones(3).item()
