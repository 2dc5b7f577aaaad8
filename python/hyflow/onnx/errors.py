"""hy.onnx.ExportError: everything that kept a model from exporting, listed at once."""


class ExportError(RuntimeError):
    """Raised by hy.onnx.export when the traced program has parts ONNX cannot express.

    ``problems`` lists them as (what, where) pairs: an op without an ONNX mapping, a user-defined op, an
    argument a mapping cannot take, a graph break (tensor data read in Python, a hy.autograd.Function, an
    in-place write into a parameter or input), each with the ``file:line`` of the user code that made it."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [f"  {what}  (at {where or 'unknown location'})" for what, where in self.problems]
        super().__init__(f"cannot export to ONNX: {len(self.problems)} problem(s):\n" + "\n".join(lines))
