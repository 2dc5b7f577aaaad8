"""The default executor: members one after the other, in this process.

Each member's workflow still runs its tasks concurrently on the workflow engine's threads, with the
kernel thread count the user set (hy.set_num_threads); members simply do not overlap. Nothing needs to
be picklable, so build_workflow may be a lambda or a closure here.
"""
from collections import deque

from .attempt import run_member_attempt

__all__ = ["InProcessExecutor"]


class InProcessExecutor:
    name = "inprocess"

    def threads_per_member(self, members):
        return None  # the whole process is the member's: leave the user's setting alone

    def execute(self, jobs, report):
        """Run every job; report(job, row) returns the retry to run next, or None."""
        queue = deque(jobs)
        while queue:
            job = queue.popleft()
            retry = report(job, run_member_attempt(job))
            if retry is not None:
                queue.appendleft(retry)  # retry at once: its checkpoints are fresh in the page cache

    def __repr__(self):
        return "InProcessExecutor()"
