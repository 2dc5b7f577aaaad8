# expect: TypeError
# match: argument 'x' must be Tensor, got str
# Arguments of user-defined ops are checked against the schema, naming the argument.
import hyflow as hy

hy.ops.define("wrong_type_demo(Tensor x, float a) -> Tensor")
hy.ops.impl("wrong_type_demo")(lambda x, a: x)
hy.ops.wrong_type_demo("not a tensor", 1.0)
