# expect: ValueError
# match: unknown type 'Tensr'
import hyflow as hy

hy.ops.define("typo(Tensr x) -> Tensor")
