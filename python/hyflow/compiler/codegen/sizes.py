"""How sizes reach a generated kernel: the one place that decides *baked constant* or *run-time parameter*.

A size or stride the guards fix (every size of a static trace, and the fixed dims of a trace with symbolic
sizes) is baked into the source as a literal, so GCC sees constant trip counts and strides. A symbolic one
(a :class:`~hyflow.compiler.symbolic.Dim`) becomes a slot of the kernel's ``meta`` array, read at run time:

    sizes = KernelSizes()
    sizes.cpp(64)          -> "64"
    sizes.cpp(s0 * 10)     -> "meta[0]"       (slot 0 holds s0*10 at each call)

The emitters (kernel_source, row_kernel, stencil_kernel, full_reduction_kernel, column_reduction_kernel)
print every size through :meth:`KernelSizes.cpp`;
build.py hands the slots to the launcher (per operand dim the slot of its size and stride, the slots of the
work items and the grain), and the replay fills ``meta`` from the call's symbol values
(:meth:`KernelSizes.meta`).
"""
from ..symbolic import Dim, evaluate

__all__ = ["KernelSizes", "is_static", "Grain", "Blocks"]


def is_static(x):
    """Whether a size is a number known at compile time."""
    return not isinstance(x, (Dim, Blocks))


class Grain:
    """A launch grain that depends on a symbolic row length: ``max(1, elements // length)`` work items."""

    __slots__ = ("elements", "length")

    def __init__(self, elements, length):
        self.elements, self.length = elements, length

    def value(self, env):
        return max(1, self.elements // max(1, evaluate(self.length, env)))

    def __eq__(self, other):
        return isinstance(other, Grain) and (self.elements, self.length) == (other.elements, other.length)

    def __hash__(self):
        return hash(("grain", self.elements, self.length))


class Blocks:
    """The number of fixed-size blocks covering a symbolic element count: ``ceil(elements / block)`` (a full
    reduction's work items and partials, full_reduction_kernel.py). The block size stays a constant, so the
    blocks and the order their partials combine in depend on the element count only."""

    __slots__ = ("elements", "block")

    def __init__(self, elements, block):
        self.elements, self.block = elements, block

    def value(self, env):
        return (evaluate(self.elements, env) + self.block - 1) // self.block

    def __eq__(self, other):
        return isinstance(other, Blocks) and (self.elements, self.block) == (other.elements, other.block)

    def __hash__(self):
        return hash(("blocks", self.elements, self.block))


class KernelSizes:
    """The run-time sizes of one kernel: ``slots`` (a Dim or Grain per ``meta`` index)."""

    def __init__(self):
        self.slots = []
        self._index = {}

    def slot(self, x):
        """The meta index holding ``x`` (added on first use); -1 for a constant."""
        if is_static(x) and not isinstance(x, Grain):
            return -1
        k = self._index.get(x)
        if k is None:
            k = self._index[x] = len(self.slots)
            self.slots.append(x)
        return k

    def cpp(self, x):
        """C++ for the size ``x``: a literal, or the meta slot that holds it."""
        if is_static(x):
            return str(int(x))
        return f"meta[{self.slot(x)}]"

    def grain(self, elements, length):
        """The launch grain for rows of ``length`` elements: a number, or a Grain (a slot) when symbolic."""
        if is_static(length):
            return max(1, elements // max(1, int(length)))
        return Grain(elements, length)

    @property
    def dynamic(self):
        return bool(self.slots)

    def meta(self, env):
        """This call's meta array for the symbol values ``env``."""
        return [x.value(env) for x in self.slots]
