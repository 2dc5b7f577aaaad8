# expect: ValueError
# match: use .reshape\(\)
# view() never copies: a transposed tensor cannot be flattened as a view.
import hyflow as hy

hy.ones(2, 3).transpose(0, 1).view(6)
