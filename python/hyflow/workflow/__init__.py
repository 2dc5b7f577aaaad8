"""hyflow.workflow: couple a running simulation with ML training and inference in one program.

    from hyflow.workflow import Workflow
    wf = Workflow("shallow-water-surrogate")
    states = wf.channel("states", capacity=16, policy="block")
    @wf.task(outputs=[states])
    def simulate(ctx): ...
    @wf.task(inputs=[states], every=10, retries=2)
    def train(ctx, batch): ...
    result = wf.run(steps=2000, checkpoint_every=100, checkpoint_dir="ckpt/")

Tasks are Python callables; a C++ engine (csrc/workflow/) schedules their instances (task, step) on a
oneTBB arena, moves items through bounded channels without copying them, retries and propagates
failures, and writes atomic checkpoints a run resumes from. See docs/workflow.md.
"""
from .context import Context, SubTaskFuture
from .graph import Channel, Task, Workflow
from .lint import WorkflowWarning
from .run import RunResult, WorkflowError, WorkflowTimeoutError

__all__ = ["Workflow", "Task", "Channel", "Context", "SubTaskFuture", "RunResult", "WorkflowError",
           "WorkflowTimeoutError", "WorkflowWarning", "load_workflow"]


def load_workflow(path_or_text):
    """Build a Workflow from a YAML file (or YAML text); returns (workflow, run_kwargs)."""
    from .spec_yaml import load_workflow as _load
    return _load(path_or_text)
