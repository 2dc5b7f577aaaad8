"""hyflow.distributed: collectives on tensors across processes, over MPI.

    # mpirun -n 4 python train.py        (or srun, or mpiexec from MPICH)
    import hyflow as hy, hyflow.distributed as dist
    dist.init()                          # or dist.init(comm=mpi4py.MPI.COMM_WORLD)
    t = hy.ones(1024) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    work = dist.all_gather(out_list, t, async_op=True); ...; work.wait()

Started without a launcher, init() makes a world of one process with the same API (no MPI needed).
Ranks in arguments (src, dst) are ranks of the world, whatever the group, as in torch.distributed.
DistributedDataParallel wraps a Module for data-parallel training; DistributedSampler gives each rank its
share of a dataset. See docs/distributed.md for launching, mpi4py interop and the failure/timeout behaviour.
"""
import atexit as _atexit
import operator as _operator
import sys as _sys

from .._C import _dist as _d
from . import _launch

ReduceOp = _d.ReduceOp
Work = _d.Work
DistError = _d.DistError
DistTimeoutError = _d.DistTimeoutError

__all__ = [
    "init", "init_process_group", "is_initialized", "is_available", "is_mpi_available", "destroy_process_group",
    "get_rank", "get_world_size", "get_backend", "get_mpi4py_comm", "set_check_args", "set_timeout",
    "ProcessGroup", "GroupMember", "new_group", "split", "ReduceOp", "Work", "DistError", "DistTimeoutError",
    "barrier", "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
    "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "send", "recv", "isend", "irecv",
    "DistributedDataParallel", "DistributedSampler",
]


class ProcessGroup:
    """A set of ranks that run collectives together; made by init(), new_group() and split()."""

    def __init__(self, comm, ranks):
        self._comm = comm
        self._ranks = list(ranks)  # world rank of each group rank
        self._index = {r: i for i, r in enumerate(self._ranks)}

    def rank(self):
        """This process's rank within the group."""
        return self._comm.rank

    def size(self):
        """Number of ranks in the group."""
        return self._comm.size

    @property
    def ranks(self):
        """World ranks of the members, in group-rank order."""
        return list(self._ranks)

    @property
    def backend(self):
        return self._comm.backend

    def group_rank(self, world_rank, what="rank"):
        """The group rank of a world rank (ValueError when it is not a member)."""
        try:
            r = _operator.index(world_rank)
        except TypeError:
            raise TypeError(f"{what} must be an int (a world rank), got {type(world_rank).__name__}") from None
        try:
            return self._index[r]
        except KeyError:
            raise ValueError(f"{what}={r} is not a member of this group (world ranks {self._ranks})") from None

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, rank={self.rank()}, size={self.size()}, ranks={self._ranks})"


class GroupMember:
    """NON_GROUP_MEMBER is what new_group() returns on ranks outside the new group."""

    NON_GROUP_MEMBER = object()


_world = None
_check_args = True
_finalizer_registered = False


def is_available():
    """Always True: without MPI, hyflow still offers the world of one process."""
    return True


def is_mpi_available():
    """True when this build of hyflow has the MPI backend (hy.build_info()["mpi"])."""
    return bool(_d.has_mpi)


def is_initialized():
    return _world is not None


_finalize_timeout = 1800.0


def _finalize_at_exit():
    # MPI_Finalize when hyflow started MPI and every rank reached the exit barrier; otherwise (a failure,
    # a dead or stuck peer: MPI_Finalize would hang) the other ranks are told that this one left, and it
    # leaves the job without making mpirun kill ranks that are still saving (see docs/distributed.md).
    if _d.has_mpi:
        _d.mpi_finalize(_finalize_timeout, _launch.nonzero_exit_aborts_job())


def _install_excepthook():
    # A process about to exit through an uncaught exception tells the other ranks so at exit (those
    # waiting for it then raise at once instead of after the timeout). Chained to whatever hook was set.
    previous = _sys.excepthook

    def excepthook(tp, value, tb):
        _d.mpi_mark_failed()
        previous(tp, value, tb)

    _sys.excepthook = excepthook


def _mpi_handle(comm):
    from mpi4py import MPI  # noqa: F401 (the caller passed an mpi4py object, so mpi4py is importable)

    handle = getattr(comm, "handle", None)
    if handle is None:
        handle = MPI._handleof(comm)
    return int(handle)


def _check_nccl():
    """backend="nccl" needs a loaded CUDA backend and the NCCL communicator library: say which is missing."""
    from .. import cuda as _cuda
    if not _cuda.is_available():
        raise RuntimeError(f"hyflow.distributed.init(backend='nccl'): CUDA is not available "
                           f"({_cuda.unavailable_reason()}); use backend='mpi' or 'local'")
    if not _d.has_nccl:
        raise RuntimeError("hyflow.distributed.init(backend='nccl'): this build of hyflow has no NCCL communicator "
                           "(NCCL was not found at build time: install nvidia-nccl-cu13 or a system NCCL and rebuild)")


def init(backend=None, comm=None, timeout=None, check_args=True):
    """Join the world of processes this program was launched into.

    backend: None (detect: MPI when an MPI launcher — mpirun, mpiexec, srun — started this process, else a
    world of one process), "mpi" (force MPI; a lone process becomes an MPI singleton), "local", or "nccl"
    (CUDA tensors, one GPU per rank; NCCL's unique id travels over MPI under an MPI launcher: docs/cuda.md).
    comm: an mpi4py communicator to adopt as the world (hyflow works on a private duplicate of it).
    timeout: seconds an operation may wait for its peers before DistTimeoutError (default:
    HYFLOW_DIST_TIMEOUT, else 1800; <= 0 waits forever). check_args: the cross-rank shape/dtype check.
    """
    global _world, _check_args, _finalizer_registered, _finalize_timeout
    if _world is not None:
        raise RuntimeError("hyflow.distributed.init: already initialized; call destroy_process_group() first")
    if backend not in (None, "mpi", "local", "nccl"):
        raise ValueError(f"hyflow.distributed.init: backend must be None, 'mpi', 'nccl' or 'local', got {backend!r}")
    if backend == "nccl":
        _check_nccl()
    timeout = _launch.timeout_from_env() if timeout is None else float(timeout)
    launch = _launch.detect()
    if comm is not None:
        if not _d.has_mpi:
            raise RuntimeError("hyflow.distributed.init(comm=...): this build of hyflow has no MPI backend "
                               "(rebuild with MPI installed, or -DHYFLOW_MPI=ON)")
        c = _d.mpi_adopt(_mpi_handle(comm))
    elif backend == "nccl":
        # NCCL's unique id travels over MPI when an MPI launcher started the ranks, else over the local world.
        if launch is not None and launch.is_mpi and _d.has_mpi:
            _d.mpi_init()
            bootstrap = _d.mpi_world()
        elif launch is not None and launch.size > 1:
            raise RuntimeError(f"hyflow.distributed.init(backend='nccl'): {launch!r} asks for {launch.size} processes; "
                               "start them with mpirun/mpiexec/srun (MPI carries NCCL's unique id)")
        else:
            bootstrap = _d.local_world()
        bootstrap.timeout = timeout
        c = _d.nccl_world(bootstrap)
    elif backend == "mpi" or (backend is None and launch is not None and launch.is_mpi):
        if not _d.has_mpi:
            raise RuntimeError(f"hyflow.distributed.init: launched by {launch.launcher if launch else 'nobody'} "
                               "but this build of hyflow has no MPI backend (rebuild with MPI installed)")
        _d.mpi_init()
        c = _d.mpi_world()
        if launch is not None and launch.is_mpi and (c.rank, c.size) != (launch.rank, launch.size):
            raise RuntimeError(f"hyflow.distributed.init: the environment says rank {launch.rank} of {launch.size} "
                               f"({launch.launcher}) but MPI says rank {c.rank} of {c.size}; is this MPI the one "
                               "the launcher belongs to?")
    else:
        if backend is None and launch is not None and launch.size > 1:
            raise RuntimeError(f"hyflow.distributed.init: {launch!r} asks for {launch.size} processes, but hyflow "
                               "connects processes through MPI: start them with mpirun/mpiexec/srun instead of a "
                               "torchrun-style launcher")
        c = _d.local_world()
    c.timeout = timeout
    c.check_args = bool(check_args)
    _check_args = bool(check_args)
    _world = ProcessGroup(c, range(c.size))
    _finalize_timeout = timeout
    if (c.backend == "mpi" or (c.backend == "nccl" and _d.has_mpi and _d.mpi_is_active())) \
            and not _finalizer_registered:
        _atexit.register(_finalize_at_exit)
        _install_excepthook()
        _finalizer_registered = True
    return _world


def init_process_group(backend=None, **kwargs):
    """torch.distributed spelling of init()."""
    return init(backend=backend, **kwargs)


def destroy_process_group(group=None):
    """Forget the world (group=None) so that init() may run again. MPI itself stays up until exit."""
    global _world
    if group is None or group is _world:
        _world = None


def _group(group):
    if _world is None:
        raise RuntimeError("hyflow.distributed: call hyflow.distributed.init() first")
    if group is None:
        return _world
    if group is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("hyflow.distributed: this rank is not a member of the group")
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"hyflow.distributed: group must be a ProcessGroup or None, got {type(group).__name__}")
    return group


def get_rank(group=None):
    """This process's rank in the group (the world by default)."""
    return _group(group).rank()


def get_world_size(group=None):
    return _group(group).size()


def get_backend(group=None):
    """'mpi', 'local' or 'nccl'."""
    return _group(group).backend


def set_check_args(on, group=None):
    """Switch the cross-rank shape/dtype/root check of collectives on or off (every rank must agree)."""
    global _check_args
    g = _group(group)
    g._comm.check_args = bool(on)
    if group is None:
        _check_args = bool(on)


def set_timeout(seconds, group=None):
    """Seconds an operation of the group may wait for its peers before DistTimeoutError (<= 0: forever)."""
    _group(group)._comm.timeout = float(seconds)


def get_mpi4py_comm(group=None):
    """An mpi4py communicator over the group's processes: a new duplicate (collective; the caller may Free it)."""
    g = _group(group)
    if g.backend != "mpi":
        raise RuntimeError(f"get_mpi4py_comm: the process group uses the {g.backend!r} backend, not MPI "
                           "(launch with mpirun/srun, or init(backend='mpi'))")
    from mpi4py import MPI

    return MPI.Intracomm.fromhandle(_d.mpi_dup_handle(g._comm))


def _new_from_comm(parent, comm):
    """Wrap a communicator split from parent: its members' world ranks come from one all_gather."""
    import hyflow as hy

    mine = hy.tensor([parent.ranks[parent.rank()]], dtype=hy.int64, device=comm.device)  # NCCL: on its GPU
    out = hy.empty(comm.size, dtype=hy.int64, device=comm.device)
    comm.all_gather_into_tensor(out, mine, False)
    return ProcessGroup(comm, [int(r) for r in out.tolist()])


def _agree_on_ranks(world, ranks, error):
    """new_group's cross-rank check, before the split: every rank learns whether some rank passed an
    invalid list (that rank raises `error`, the others "invalid on another rank") or a different one
    (all raise). One tiny all-reduce; without it a bad list on one rank would leave the others waiting in
    the split, and different lists would silently make groups that disagree with their members' ranks."""
    import hyflow as hy

    if world.size() == 1:
        if error is not None:
            raise error
        return
    h = hash(tuple(ranks)) & ((1 << 62) - 1)  # non-negative, so that -h cannot overflow
    flags = hy.tensor([int(error is not None), h, -h], dtype=hy.int64, device=world._comm.device)  # NCCL: its GPU
    world._comm.all_reduce(flags, ReduceOp.MAX, False)
    invalid, hmax, neg_hmin = flags.tolist()
    if error is not None:
        raise error
    if invalid:
        raise ValueError("new_group: the ranks were invalid on another rank, which raised the reason")
    if hmax != -neg_hmin:
        raise ValueError(f"new_group: ranks passed different lists of ranks (this rank: {ranks}); every rank "
                         "must pass the same ranks")


def new_group(ranks=None, timeout=None):
    """A group of the given world ranks (all ranks by default). Every rank of the world must call it;
    ranks outside the group get GroupMember.NON_GROUP_MEMBER."""
    world = _group(None)
    try:
        ranks = sorted(set(range(world.size()) if ranks is None else (_operator.index(r) for r in ranks)))
        bad = next((r for r in ranks if not 0 <= r < world.size()), None)
        error = None if bad is None else ValueError(f"new_group: rank {bad} is not in the world of size "
                                                    f"{world.size()}")
    except TypeError as e:
        ranks, error = [], TypeError(f"new_group: ranks must be ints (world ranks): {e}")
    _agree_on_ranks(world, ranks, error)
    me = world.rank()
    color = 0 if me in ranks else -1
    key = ranks.index(me) if me in ranks else 0
    comm = world._comm.split(color, key)
    if comm is None:
        return GroupMember.NON_GROUP_MEMBER
    if timeout is not None:
        comm.timeout = float(timeout)
    return ProcessGroup(comm, ranks)


def split(color, key=None, group=None):
    """Split the group (the world by default) like MPI_Comm_split: ranks passing the same color form a new
    group, ordered by key (then by rank). color None or < 0: this rank joins no group (returns None)."""
    g = _group(group)
    try:
        color = -1 if color is None else _operator.index(color)
        key = g.rank() if key is None else _operator.index(key)
        for name, v in (("color", color), ("key", key)):
            if not -2**31 <= v < 2**31:
                raise ValueError(f"split: {name}={v} does not fit in a C int")
    except (TypeError, ValueError) as e:
        g._comm.reject("split")  # the peers are entering split: let them raise instead of waiting
        if isinstance(e, TypeError):
            raise TypeError(f"split: color and key must be ints or None: {e}") from None
        raise
    comm = g._comm.split(color, key)
    if comm is None:
        return None
    return _new_from_comm(g, comm)


def _list(ts):
    return [] if ts is None else list(ts)


def _root(g, op, world_rank, what):
    """The group rank of a root/peer argument of collective `op`. An invalid one raises on this rank only:
    first it takes part in the call's cross-rank argument check as a failed rank, so the peers (already
    inside `op`, or about to be) raise "invalid on another rank" instead of waiting for a rank that never
    posts, and the communicator stays usable."""
    try:
        return g.group_rank(world_rank, what)
    except (TypeError, ValueError):
        g._comm.reject(op)
        raise


def barrier(group=None, async_op=False):
    """Wait until every rank of the group reached the barrier."""
    return _group(group)._comm.barrier(bool(async_op))


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """In place: tensor <- op(tensor of every rank). AVG needs a floating dtype."""
    return _group(group)._comm.all_reduce(tensor, op, bool(async_op))


def broadcast(tensor, src=0, group=None, async_op=False):
    """tensor <- the tensor of world rank src."""
    g = _group(group)
    return g._comm.broadcast(tensor, _root(g, "broadcast", src, "src"), bool(async_op))


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """On world rank dst: tensor <- op(tensor of every rank); other ranks' tensors are unchanged."""
    g = _group(group)
    return g._comm.reduce(tensor, _root(g, "reduce", dst, "dst"), op, bool(async_op))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- the tensor of group rank r."""
    return _group(group)._comm.all_gather(_list(tensor_list), tensor, bool(async_op))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor (size x input's elements) <- every rank's input, concatenated in rank order."""
    return _group(group)._comm.all_gather_into_tensor(output_tensor, input_tensor, bool(async_op))


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """On world rank dst: gather_list[r] <- the tensor of group rank r."""
    g = _group(group)
    return g._comm.gather(_list(gather_list), tensor, _root(g, "gather", dst, "dst"), bool(async_op))


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """tensor <- scatter_list[my group rank] of world rank src."""
    g = _group(group)
    return g._comm.scatter(tensor, _list(scatter_list), _root(g, "scatter", src, "src"), bool(async_op))


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- op over ranks of input_list[my group rank]."""
    return _group(group)._comm.reduce_scatter(output, _list(input_list), op, bool(async_op))


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """output <- op over ranks of my chunk of input (input has size x output's elements)."""
    return _group(group)._comm.reduce_scatter_tensor(output, input, op, bool(async_op))


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """output_tensor_list[r] <- input_tensor_list[my group rank] of group rank r (sizes may differ)."""
    return _group(group)._comm.all_to_all(_list(output_tensor_list), _list(input_tensor_list), bool(async_op))


def all_to_all_single(output, input, group=None, async_op=False):  # noqa: A002
    """Chunk r of output <- my chunk of input on group rank r (equal chunks)."""
    return _group(group)._comm.all_to_all_single(output, input, bool(async_op))


def isend(tensor, dst, group=None, tag=0):
    """Post a send of tensor to world rank dst; returns a Work."""
    g = _group(group)
    return g._comm.send(tensor, g.group_rank(dst, "dst"), int(tag))


def irecv(tensor, src=None, group=None, tag=0):
    """Post a receive into tensor from world rank src (None: any rank); returns a Work (Work.source is the
    sender's group rank once completed)."""
    g = _group(group)
    return g._comm.recv(tensor, -1 if src is None else g.group_rank(src, "src"), int(tag))


def send(tensor, dst, group=None, tag=0):
    """Send tensor to world rank dst and wait until the buffer may be reused."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0):
    """Receive into tensor from world rank src (None: any rank); returns the sender's world rank."""
    g = _group(group)
    w = irecv(tensor, src, group, tag)
    w.wait()
    return g._ranks[w.source]


# Training layers over the collectives above (they import from this module, hence last).
from .ddp import DistributedDataParallel  # noqa: E402
from .sampler import DistributedSampler  # noqa: E402
