"""The part of a workflow one process runs, as the engine sees it.

In a one-process run this is the whole graph. Under MPI each rank keeps the tasks placed on it and
stands in for the others with proxies: a *receiver* (declared first) that brings a remote task's
output for each step, and a *sender* (declared last) that ships a local task's output to the ranks
that read it. Proxies fire at every step, even when the task they stand for produced nothing, so the
peer always knows a step is over. Delivery between placements:
    same ranks on both sides      rank-local, no messages
    producer on one rank          broadcast to every consumer rank
    consumer on one rank          gathered from every producer rank (in rank order)
anything else is ambiguous and raises ValueError. A task on several ranks is read directly (as a task
input) only on the same ranks. When a task stops for good (it failed, or something it depends on
did), each sender among it and its dependents sends its peers a *stop notice* instead of the next
step's value: the receivers there fail with the reason, so their dependents stop too and unrelated
branches go on, instead of waiting for the communication timeout.
"""
import logging
import os
import threading

from . import placement, wire
from .graph import Channel, Task

log = logging.getLogger("hyflow.workflow")

_TAG_BASE = 7000  # message tags of the workflow's own communicator; one per (edge, sender rank)
_UNBOUNDED = 1 << 62


class LocalTask:
    def __init__(self, name, fn=None, *, every=1, offset=0, when=None, retries=0, always=False, proxy=None,
                 timeout=None):
        self.name = name
        self.timeout = timeout
        self.fn = fn
        self.every = every
        self.offset = offset
        self.when = when
        self.retries = retries
        self.always = always
        self.proxy = proxy  # for fn=None: proxy(step, args) -> (ok, value, emitted)
        self.inputs = []  # ("task" | "channel", local index)
        self.input_policies = []
        self.outputs = []  # local channel indices
        self.channel_map = {}  # workflow channel index -> local channel indices, for ctx.emit


class LocalGraph:
    def __init__(self, wf, rank, size, group):
        self.wf = wf
        self.rank = rank
        self.size = size
        self.group = group
        self.tasks = []
        self.channels = []  # dicts: name, capacity, policy, delay, saved (False for transit channels)
        self.start_step = 0
        self.blocking_tasks = 0
        self.outgoing = {}  # local index of a sender proxy -> its _Outgoing

    # ------------------------------------------------------------------------- engine interface

    def engine_tasks(self):
        return [{"name": t.name, "every": t.every, "offset": t.offset, "has_predicate": t.when is not None,
                 "retries": t.retries, "always": t.always, "timeout": t.timeout, "inputs": list(t.inputs),
                 "outputs": list(t.outputs)}
                for t in self.tasks]

    def engine_channels(self):
        return [{k: c[k] for k in ("name", "capacity", "policy", "delay")} for c in self.channels]

    def add_channel(self, name, capacity, policy, delay, saved=True):
        self.channels.append({"name": name, "capacity": capacity, "policy": policy, "delay": delay, "saved": saved})
        return len(self.channels) - 1

    # ------------------------------------------------------------------------- checkpoints

    def checkpoint_dir(self, directory):
        return directory if self.size == 1 else os.path.join(directory, f"rank-{self.rank:05d}")

    def checkpoint_payload(self, engine, contexts, next_step):
        tasks, rng = {}, {}
        for t, ctx in zip(self.tasks, contexts):
            if ctx is not None:
                tasks[t.name] = ctx.state
                rng[t.name] = list(ctx.rng.get_state())
        channels = {}
        for i, c in enumerate(self.channels):
            if not c["saved"]:
                continue
            items = [[step, self.tasks[producer].name, seq, value]
                     for step, producer, seq, value in engine.channel_snapshot(i)]
            channels[c["name"]] = {"items": items, "cursors": list(engine.channel_cursors(i))}
        return {"tasks": tasks, "channels": channels,
                "engine": {"next_step": next_step, "rng": rng, "rank": self.rank, "size": self.size,
                           "graph": _fingerprint(self)},
                "meta": {"workflow": self.wf.name}}

    def restore(self, engine, directory, states, rngs):
        """Load the newest checkpoint every rank has; returns its step (0 when there is none)."""
        from .checkpoint import list_checkpoints, load_checkpoint
        directory = self.checkpoint_dir(os.fspath(directory))
        step = None
        if self.size > 1:
            have = [info.step for info in list_checkpoints(directory)] if os.path.isdir(directory) else []
            step = _common_step(self.group, have)
            if step is None:
                log.info("workflow '%s': no checkpoint common to all ranks in %s; starting at step 0",
                         self.wf.name, directory)
                return 0
            loaded = load_checkpoint(directory, step=step)
        else:
            loaded = load_checkpoint(directory) if os.path.isdir(directory) else None
        if loaded is None:
            log.info("workflow '%s': no checkpoint in %s; starting at step 0", self.wf.name, directory)
            return 0
        step, payload = loaded
        engine_info = payload.get("engine", {})
        if engine_info.get("graph") != _fingerprint(self):
            raise ValueError(f"checkpoint in {directory!r} was written by a different workflow graph "
                             f"({engine_info.get('graph')!r}); this one is {_fingerprint(self)!r}")
        for name, state in payload.get("tasks", {}).items():
            states[name] = state
        for name, st in engine_info.get("rng", {}).items():
            rngs[name].set_state(tuple(int(x) for x in st))
        index = {t.name: i for i, t in enumerate(self.tasks)}
        for i, c in enumerate(self.channels):
            if not c["saved"]:
                continue
            saved = payload.get("channels", {}).get(c["name"], {"items": [], "cursors": None})
            items = [(int(s), index[p], int(q), v) for s, p, q, v in saved["items"]]
            cursors = saved["cursors"] if saved["cursors"] is not None else list(engine.channel_cursors(i))
            engine.channel_restore(i, items, [int(x) for x in cursors])
        log.info("workflow '%s': resuming from the checkpoint at step %d", self.wf.name, step)
        return step

    def stop_downstream(self, task, reason):
        """Local task `task` failed for good, so the engine stops it and everything downstream of it:
        tell the peers of the senders among them, who would otherwise wait for their next step."""
        if not self.outgoing:
            return
        for t in self._downstream(task):
            if t in self.outgoing:
                self.outgoing[t].stop(reason)

    def _downstream(self, task):
        """`task` and every local task that reads it directly or through a channel, transitively."""
        seen, todo = {task}, [task]
        while todo:
            t = todo.pop()
            outs = set(self.tasks[t].outputs)
            for i, other in enumerate(self.tasks):
                if i not in seen and any((kind == "task" and j == t) or (kind == "channel" and j in outs)
                                         for kind, j in other.inputs):
                    seen.add(i)
                    todo.append(i)
        return seen

    def finish(self, end_step):
        """After the engine returned: an edge that did not deliver every step (the run stopped early) gets
        a stop notice, so its peers do not wait for the steps that will not come."""
        for out in self.outgoing.values():
            last = out.last_sent if out.last_sent is not None else self.start_step - 1
            if last < end_step - 1:
                out.stop(f"the run on rank {self.rank} stopped before step {last + 1}")


def _fingerprint(g):
    """What a checkpoint must agree with: the local task and channel names, in order."""
    return "|".join(t.name for t in g.tasks) + "#" + "|".join(c["name"] for c in g.channels)


def _common_step(group, have):
    """The newest checkpoint step present on every rank (None if there is none)."""
    import hyflow as hy
    from .. import distributed as dist
    n = hy.tensor([len(have)], dtype=hy.int64)
    dist.all_reduce(n, op=dist.ReduceOp.MAX, group=group)
    width = int(n.tolist()[0])
    if width == 0:
        return None
    mine = hy.tensor(sorted(have) + [-1] * (width - len(have)), dtype=hy.int64)
    everyone = [hy.empty([width], dtype=hy.int64) for _ in range(group.size())]
    dist.all_gather(everyone, mine, group=group)
    common = None
    for row in everyone:
        steps = {s for s in row.tolist() if s >= 0}
        common = steps if common is None else common & steps
    return max(common) if common else None


# ----------------------------------------------------------------------------------- building

def _world(comm):
    """(rank, size, group) of the run: the given group, an initialised hyflow.distributed world, one
    started by an MPI launcher (initialised here), or a single process."""
    from .. import distributed as dist
    if comm is not None:
        group = comm if isinstance(comm, dist.ProcessGroup) else dist.init(comm=comm)
        return group.rank(), group.size(), group
    if not dist.is_initialized() and _launched_by_mpi() and dist.is_mpi_available():
        dist.init()
    if dist.is_initialized() and dist.get_world_size() > 1:
        group = dist.new_group(list(range(dist.get_world_size())))  # its own tags, apart from the user's
        return dist.get_rank(), dist.get_world_size(), group
    return 0, 1, None


def _launched_by_mpi():
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        try:
            if int(os.environ.get(var, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


def build(wf, comm=None):
    rank, size, group = _world(comm)
    g = LocalGraph(wf, rank, size, group)
    placed = {t.name: placement.resolve_ranks(t.ranks, size, f"task '{t.name}' ranks") for t in wf.tasks}
    here = [t for t in wf.tasks if rank in placed[t.name]]

    # Local copies of channels read or written here, and the edges that cross ranks.
    local_ch = {}  # workflow channel -> local channel index
    for ch in wf.channels:
        touches = any(rank in placed[p.name] for p in wf.producers(ch)) or \
            any(rank in placed[c.name] for c in wf.consumers(ch))
        if touches:
            local_ch[ch.index] = g.add_channel(ch.name, ch.capacity, ch.policy, wf.effective_delay(ch))

    edges = _crossing_edges(wf, placed, size)
    receivers, senders = [], []
    for e in edges:
        if rank in e["dst_ranks"] and any(r != rank for r in e["src_ranks_effective"]):
            receivers.append(e)
        if rank in e["src_ranks_effective"] and any(d != rank for d in e["dst_ranks"]):
            senders.append(e)

    task_index = {}

    def add_receiver(e, src):
        t = LocalTask(f"{e['producer'].name}@{src}", always=True,
                      proxy=_receiver(g, e, src, local_ch.get(e["channel"].index) if e["channel"] else None))
        if e["channel"] is not None:
            t.outputs.append(local_ch[e["channel"].index])
        task_index.setdefault(("recv", e["producer"].name), []).append(len(g.tasks))
        g.tasks.append(t)

    # 1. receivers: stand-ins for remote producers, so every local reader comes after them. Channel
    # items are ordered by producer index, so when this rank also produces a gathered channel, the
    # receivers of higher ranks go right after the local producer (step 2): items arrive in rank order.
    after_local = {}  # local producer name -> edges and source ranks of receivers that go after it
    for e in receivers:
        for src in e["src_ranks_effective"]:
            if src == rank:
                continue
            if e["channel"] is not None and rank in e["src_ranks_effective"] and src > rank:
                after_local.setdefault(e["producer"].name, []).append((e, src))
            else:
                add_receiver(e, src)
    # 2. the tasks placed here
    for wt in here:
        t = LocalTask(wt.name, wt.fn, every=wt.every, offset=wt.offset, when=wt.when, retries=wt.retries,
                      timeout=wt.timeout)
        for x in wt.inputs:
            if isinstance(x, Task):
                if x.name in task_index:
                    t.inputs.append(("task", task_index[x.name]))
                else:
                    remote = task_index.get(("recv", x.name), [])
                    if len(remote) != 1:
                        raise ValueError(f"task '{wt.name}' reads task '{x.name}' directly, but they run on ranks "
                                         f"{placed[wt.name]} and {placed[x.name]}: read it through a channel")
                    t.inputs.append(("task", remote[0]))
                t.input_policies.append(None)
            else:
                t.inputs.append(("channel", local_ch[x.index]))
                t.input_policies.append(x.policy)
        for ch in wt.outputs:
            t.outputs.append(local_ch[ch.index])
            t.channel_map[ch.index] = [local_ch[ch.index]]
        task_index[wt.name] = len(g.tasks)
        g.tasks.append(t)
        for e, src in after_local.get(wt.name, ()):
            add_receiver(e, src)
    # 3. senders: ship local outputs to the ranks that read them
    for e in senders:
        dsts = [d for d in e["dst_ranks"] if d != rank]
        out = _Outgoing(g, e, dsts)
        g.outgoing[len(g.tasks)] = out
        t = LocalTask(f"{e['producer'].name}->{','.join(map(str, dsts))}", always=True, proxy=_sender(out))
        if e["channel"] is None:
            t.inputs.append(("task", task_index[e["producer"].name]))
            t.input_policies.append(None)
        else:
            # A channel of its own, read every step without delay, so the sender forwards exactly the
            # items of each step whatever the channel's policy does to its local readers.
            transit = g.add_channel(f"{e['channel'].name}->{','.join(map(str, dsts))}", _UNBOUNDED, "block", 0,
                                    saved=False)
            producer = g.tasks[task_index[e["producer"].name]]
            producer.outputs.append(transit)
            producer.channel_map[e["channel"].index].append(transit)  # ctx.emit reaches the transit copy too
            t.inputs.append(("channel", transit))
            t.input_policies.append("block")
        g.tasks.append(t)
    # Proxies block a worker while they wait for a peer: give the arena a thread for each.
    g.blocking_tasks = len(receivers) + len(senders)
    return g


def _crossing_edges(wf, placed, size):
    """Every (producer task, channel or None) whose readers run on ranks it does not cover."""
    edges = []
    tag = _TAG_BASE
    for p in wf.tasks:
        src = placed[p.name]
        readers = [(t, None) for t in wf.tasks if any(i is p for i in t.inputs)]
        for t, _ in readers:
            # Checked here, on every rank, so that all ranks raise rather than some waiting for the others.
            if size > 1 and len(src) > 1 and placed[t.name] != src:
                raise ValueError(f"task '{t.name}' reads task '{p.name}' directly, but they run on ranks "
                                 f"{placed[t.name]} and {src}: a task on several ranks is read directly only on "
                                 "the same ranks; read it through a channel")
        for ch in p.outputs:
            readers += [(t, ch) for t in wf.consumers(ch)]
        by_channel = {}
        for t, ch in readers:
            by_channel.setdefault(ch, set()).update(placed[t.name])
        for ch, dst in by_channel.items():
            dst = sorted(dst)
            if dst == src or size == 1:
                continue  # rank-local
            what = f"channel '{ch.name}'" if ch is not None else f"task '{p.name}' output"
            if len(src) != 1 and len(dst) != 1:
                raise ValueError(f"{what} connects ranks {src} to ranks {dst}: place both sides on the same "
                                 "ranks, or one side on a single rank")
            edges.append({"producer": p, "channel": ch, "src_ranks_effective": src, "dst_ranks": dst, "tag": tag})
            tag += 1
    return edges


def _receiver(g, edge, src, local_channel):
    where = f"'{edge['producer'].name}' output from rank {src}"

    def proxy(step, args):
        value = wire.recv_value(g.group, g.group.ranks[src], edge["tag"])  # point-to-point takes world ranks
        if isinstance(value, wire.PeerStopped):  # this proxy fails: its local dependents stop too
            return (False, f"{where} stopped: {value.reason}", None)
        if local_channel is None:
            return (True, value, [])
        return (True, None, [(local_channel, item) for item in value])
    proxy.where = where
    return proxy


class _Outgoing:
    """One sender proxy's link to its peers: a value per step, in step order, until stop() sends the
    stop notice instead. The lock keeps a notice from interleaving with a value being sent (both go
    on the edge's tag), and nothing is sent after the notice."""

    def __init__(self, g, edge, dsts):
        self.g = g
        self.edge = edge
        self.dsts = dsts
        self.where = (f"channel '{edge['channel'].name}'" if edge["channel"] is not None
                      else f"task '{edge['producer'].name}' output")
        self.lock = threading.Lock()
        self.stopped = False
        self.last_sent = None  # the last step delivered

    def send(self, step, value):
        with self.lock:
            if self.stopped:  # an instance the engine had queued before it stopped this sender
                return
            for d in self.dsts:  # placements count group ranks; point-to-point takes world ranks
                wire.send_value(self.g.group, self.g.group.ranks[d], self.edge["tag"], value, self.where)
            self.last_sent = step

    def stop(self, reason):
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            for d in self.dsts:
                try:
                    wire.send_stopped(self.g.group, self.g.group.ranks[d], self.edge["tag"], reason)
                except Exception as e:  # noqa: BLE001 — the peer may be gone too: nothing more to tell it
                    log.warning("workflow: could not tell rank %d that %s stopped: %s", d, self.where, e)


def _sender(out):
    def proxy(step, args):
        out.send(step, args[0])
        return (True, None, [])
    return proxy


__all__ = ["build", "LocalGraph", "LocalTask", "Channel"]
