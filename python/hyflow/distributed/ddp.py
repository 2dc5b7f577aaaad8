"""DistributedDataParallel: every rank trains a replica of the module on its share of each batch, and
backward averages the gradients across ranks, so every replica takes the same optimizer step.

    dist.init()
    model = dist.DistributedDataParallel(MLP())        # rank 0's parameters are broadcast to all ranks
    opt = hy.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:                                # loader built with a DistributedSampler
        opt.zero_grad()
        loss_fn(model(x), y).backward()                # .grad is the average over ranks when this returns
        opt.step()

How backward overlaps communication with computation: the parameters are grouped, in reverse
registration order, into buckets of at most bucket_cap_mb; after the first synced backward the buckets
are rebuilt once in the order its gradients actually arrived (rank 0's order, broadcast). A post-accumulate-grad hook on every parameter copies its fresh .grad into the bucket's
flat buffer; once a bucket is complete — and every bucket before it has been launched, so that all ranks
issue the all-reduces in the same order — an async all_reduce(AVG) of the flat buffer is posted, and
later hooks poll the outstanding ones so that MPI makes progress while backward computes. The hook that
completes the last bucket waits for all of them and copies the averages back into .grad: hyflow's
autograd engine has no end-of-backward callback, and the last parameter gradient is, by definition, the
end of the work this layer needs.

Hence, by default, every parameter that requires grad must receive a gradient in every backward that
syncs (as in torch's default find_unused_parameters=False); otherwise the reduction never finishes, and
the next forward raises an error that says so. With find_unused_parameters=True, forward walks the
autograd graph of its output and counts the parameters it does not reach as ready (contributing zeros),
and a bitmap all-reduce tells which parameters no rank used: those keep their .grad untouched (None on a
fresh step), the others get the average over ranks (a rank that did not use one contributes zero).
"""
import contextlib
import weakref

from .._C import int64
from .._creation import tensor, zeros
from ..autograd import is_grad_enabled, no_grad
from ..nn import Module
from . import ReduceOp, _group, all_reduce, broadcast

__all__ = ["DistributedDataParallel"]


def _leaves_reached(out):
    """ids of the leaf tensors the autograd graph of `out` (tensors in nested tuples/lists/dicts) reaches."""
    from .._C import Tensor
    reached, roots, stack = set(), [], [out]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            if x.grad_fn is not None:
                roots.append(x.grad_fn)
            elif x.requires_grad:
                reached.add(id(x))  # a parameter returned as it is
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    seen = {}  # id -> node: holding the wrappers keeps their ids from being reused by new ones
    while roots:
        node = roots.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        leaf = node.variable
        if leaf is not None:
            reached.add(id(leaf))
        roots.extend(fn for fn, _ in node.next_functions if fn is not None)
    return reached

class _Bucket:
    """Parameters of one dtype whose gradients are all-reduced together through one flat buffer."""

    def __init__(self, index, params):
        self.index = index
        self.params = params
        self.offsets = []
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.numel()
        self.numel = n
        self.flat = zeros(n, dtype=params[0].dtype, device=str(params[0].device))  # beside the gradients
        self.pending = 0
        self.work = None

    def view(self, i):
        off = self.offsets[i]
        return self.flat[off:off + self.params[i].numel()]


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the process group (the world by default).

    Construction broadcasts rank 0's parameters and buffers to every rank (a collective: all ranks must
    wrap the same architecture). ``forward`` calls the module, first broadcasting rank 0's buffers when
    ``broadcast_buffers``. After ``loss.backward()`` every parameter's ``.grad`` is the average over ranks
    of the local gradients (with, under :meth:`no_sync`, the locally accumulated ones of earlier steps).
    ``state_dict``/``load_state_dict`` are the wrapped module's (no ``module.`` prefix); the module
    itself is ``.module``.
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True, process_group=None,
                 find_unused_parameters=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a hyflow.nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb or bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        object.__setattr__(self, "process_group", _group(process_group))
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "bucket_cap_mb", bucket_cap_mb)
        object.__setattr__(self, "require_backward_grad_sync", True)
        object.__setattr__(self, "find_unused_parameters", bool(find_unused_parameters))
        object.__setattr__(self, "_used_work", None)  # the bitmap all-reduce of this iteration
        object.__setattr__(self, "_hooks", [])
        params = self._unique_params()
        with no_grad():  # frozen parameters too: every replica must start from rank 0's whole state
            for t in list(module.parameters()) + list(module.buffers()):
                broadcast(t.detach(), src=self.process_group.ranks[0], group=self.process_group)
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_index", {id(p): k for k, p in enumerate(params)})
        object.__setattr__(self, "_arrival", [])  # indices in the order of the first synced backward
        object.__setattr__(self, "_rebuilt", False)
        self._set_buckets(list(reversed(params)))
        # The hooks live in C++, out of reach of Python's cycle collector: they hold the wrapper weakly, so
        # dropping it frees it (and leaves the module's hooks inert).
        me = weakref.ref(self)

        def hook(p):
            ddp = me()
            if ddp is not None:
                ddp._on_grad_ready(p)

        for p in params:
            self._hooks.append(p.register_post_accumulate_grad_hook(hook))
        self._reset_iteration()

    # ---- set-up --------------------------------------------------------------------------------
    def _unique_params(self):
        seen, out = set(), []
        for p in self.module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    def _set_buckets(self, ordered):
        """Fill buckets in the given order; a new bucket when the cap would be passed or the dtype changes."""
        cap_bytes = int(self.bucket_cap_mb * 1024 * 1024)
        groups, cur, size = [], [], 0
        for p in ordered:
            nbytes = p.numel() * p.element_size()
            if cur and (size + nbytes > cap_bytes or p.dtype != cur[0].dtype):
                groups.append(cur)
                cur, size = [], 0
            cur.append(p)
            size += nbytes
        if cur:
            groups.append(cur)
        object.__setattr__(self, "_buckets", [_Bucket(i, g) for i, g in enumerate(groups)])
        object.__setattr__(self, "_where", {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)})

    def _wire_device(self):
        """Where the small bookkeeping tensors travel: the GPU for NCCL (it moves device memory only), else
        the CPU."""
        return str(self._params[0].device) if self.process_group.backend == "nccl" and self._params else "cpu"

    def _rebuild_buckets(self):
        """After the first synced backward: refill the buckets in the order its gradients arrived (rank 0's,
        broadcast, so that every rank has the same buckets), so that the first bucket is complete early and
        its all-reduce overlaps the rest of backward. hyflow's engine, for instance, reaches the bias
        gradients of an MLP only after all the weight gradients."""
        object.__setattr__(self, "_rebuilt", True)
        if len(self._arrival) == len(self._params):
            order = tensor(self._arrival, dtype=int64, device=self._wire_device())
        else:
            order = tensor(list(reversed(range(len(self._params)))), dtype=int64, device=self._wire_device())
        broadcast(order, src=self.process_group.ranks[0], group=self.process_group)
        self._set_buckets([self._params[k] for k in order.tolist()])

    def _reset_iteration(self):
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        object.__setattr__(self, "_next_launch", 0)
        object.__setattr__(self, "_in_backward", False)

    # ---- forward -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self._in_backward:
            missing = sum(b.pending for b in self._buckets)
            for b in self._buckets:  # every rank posted the same buckets: let them finish before moving on
                if b.work is not None:
                    b.work.wait()
            self._reset_iteration()
            self._arrival.clear()
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not produce a gradient for every parameter "
                f"({missing} or more never got one), so the gradient reduction never finished. Every "
                "parameter that requires grad must take part in the loss of every synced step (or set "
                "requires_grad=False on the unused ones before wrapping).")
        if self.broadcast_buffers and self.process_group.size() > 1:
            with no_grad():
                for t in self.module.buffers():
                    broadcast(t.detach(), src=self.process_group.ranks[0], group=self.process_group)
        out = self.module(*args, **kwargs)
        if self.find_unused_parameters and self.require_backward_grad_sync and is_grad_enabled():
            self._mark_unused(out)
        return out

    def _mark_unused(self, out):
        """Count the parameters the output's graph does not reach as ready with zero gradient, and post
        the all-reduce (MAX) of the 'used here' bitmap; every rank posts it before any bucket."""
        reached = _leaves_reached(out)
        used = [id(p) in reached for p in self._params]
        bitmap = tensor([1 if u else 0 for u in used], dtype=int64, device=self._wire_device())
        object.__setattr__(self, "_used_bitmap", bitmap)
        object.__setattr__(self, "_used_work", all_reduce(bitmap, op=ReduceOp.MAX, group=self.process_group,
                                                          async_op=True))
        object.__setattr__(self, "_in_backward", True)
        for p, u in zip(self._params, used):
            if not u:
                b, i = self._where[id(p)]
                with no_grad():
                    b.view(i).zero_()
                b.pending -= 1
        self._launch_ready()

    # ---- backward: bucketed, overlapped all-reduce -----------------------------------------------
    def _on_grad_ready(self, param):
        if not self.require_backward_grad_sync:
            return
        b, i = self._where[id(param)]
        if not self._rebuilt:
            self._arrival.append(self._index[id(param)])
        object.__setattr__(self, "_in_backward", True)
        with no_grad():
            b.view(i).copy_(param.grad.reshape([-1]))
        b.pending -= 1
        self._launch_ready()

    def _launch_ready(self):
        # Launch complete buckets strictly in index order: every rank must post the same sequence.
        while self._next_launch < len(self._buckets) and self._buckets[self._next_launch].pending == 0:
            nb = self._buckets[self._next_launch]
            nb.work = all_reduce(nb.flat, op=ReduceOp.AVG, group=self.process_group, async_op=True)
            object.__setattr__(self, "_next_launch", self._next_launch + 1)
        for ob in self._buckets[:self._next_launch]:
            ob.work.is_completed()  # MPI progresses the in-flight reductions only inside MPI calls
        if self._next_launch == len(self._buckets):
            self._finish()

    def _finish(self):
        used_anywhere = None
        if self._used_work is not None:
            self._used_work.wait()
            used_anywhere = [bool(u) for u in self._used_bitmap.tolist()]
            object.__setattr__(self, "_used_work", None)
        with no_grad():
            for b in self._buckets:
                b.work.wait()
                for i, p in enumerate(b.params):
                    if used_anywhere is not None and not used_anywhere[self._index[id(p)]]:
                        continue  # no rank used it: its .grad stays as it was
                    if p.grad is None:
                        p.grad = b.view(i).reshape(p.shape).clone()
                    else:
                        p.grad.copy_(b.view(i).reshape(p.shape))
        if not self._rebuilt:
            self._rebuild_buckets()
        self._reset_iteration()

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside skip the reduction: gradients accumulate locally in .grad, and the first
        backward outside reduces the accumulated sum."""
        old = self.require_backward_grad_sync
        object.__setattr__(self, "require_backward_grad_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "require_backward_grad_sync", old)

    # ---- delegation ----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        return self.module.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict=True):
        return self.module.load_state_dict(state_dict, strict=strict)

    def extra_repr(self):
        return (f"world_size={self.process_group.size()}, buckets={len(self._buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb}, broadcast_buffers={self.broadcast_buffers}")
