"""Run under mpirun -n 4: an ensemble of 4 placed members (count on the member's first rank, record on
its last), 2 ranks per member, so 2 members at a time on sub-communicators. Member 0001 fails once at
step 3 and is retried from its checkpoints; member 0003 always fails.

    python ensemble_mpi.py DIR [resume | uneven | build-fails]

uneven: ranks_per_member=3 does not divide 4 ranks: every rank must raise the same ValueError.
build-fails: member 0000's build raises on world rank 1 only: its group must fail it (naming that
rank's error) instead of rank 0 waiting in the workflow for a rank that never joins.

Every rank checks that it got the same table as world rank 0 and prints "RANK r OK"; the test reads
DIR/results.json and the members' steps.log files.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hyflow.distributed as dist  # noqa: E402
from hyflow.ensemble import Ensemble  # noqa: E402

import ensemble_members as em  # noqa: E402


def main():
    directory, mode = sys.argv[1], (sys.argv[2:] or [""])[0]
    resume, uneven = mode == "resume", mode == "uneven"
    side = os.path.join(directory, "side")
    members = [{"rate": 1.0 + i, "placed": True, "dir": os.path.join(side, str(i))} for i in range(4)]
    members[1].update(fail_at=3, fail_attempts=1)
    members[3].update(fail_at=2)
    if mode == "build-fails":
        members = [dict(members[0], build_fails_on_rank=1), members[2]]
    dist.init()
    if uneven:
        try:
            Ensemble(em.build, members, steps=6, directory=directory, executor="mpi", ranks_per_member=3).run()
        except ValueError as e:
            assert "ranks_per_member=3 does not divide the world of 4 rank(s)" in str(e), e
            print(f"RANK {dist.get_rank()} OK", flush=True)
        return
    table = Ensemble(em.build, members, steps=6, directory=directory, executor="mpi", ranks_per_member=2,
                     retries=1, metrics=em.metrics, checkpoint_every=2, resume=resume).run()
    rank = dist.get_rank()
    with open(os.path.join(directory, f"table-rank-{rank}.json"), "w") as f:
        json.dump(list(table), f)
    assert [row["member"] for row in table] == [f"{i:04d}" for i in range(len(members))], table
    print(f"RANK {rank} OK", flush=True)


if __name__ == "__main__":
    main()
