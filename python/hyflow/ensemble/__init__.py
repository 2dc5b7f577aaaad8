"""hyflow.ensemble: run many members of a workflow (a parameter sweep, seeds) and gather one table.

    from hyflow.ensemble import Ensemble

    def build(params):                      # module-level, so worker processes can import it
        return make_climate_workflow(nu=params["nu"], forcing=params["forcing"])

    ens = Ensemble(build, grid={"nu": [1e-3, 3e-3], "forcing": [0.01, 0.03]}, steps=300,
                   directory="runs/sweep", executor="dask", retries=1, metrics=summarize)
    table = ens.run()                       # one row per member; results.json / results.csv beside
    table.to_pandas()                       # with pandas installed

Each member is a full workflow with its own checkpoints (directory/members/<id>/); a failed member is
retried from them, never costs the others their results, and a rerun (resume=True) skips the members
that finished. Executors: "inprocess" (default), "process" (spawned local pool), "dask"
(dask.distributed; optional dependency) and "mpi" (members on sub-communicators). See docs/ensembles.md.
"""
from .attempt import MemberJob, run_member_attempt
from .ensemble import Ensemble
from .executor_inprocess import InProcessExecutor
from .members import parameter_grid, seed_members
from .table import EnsembleResult

__all__ = ["Ensemble", "EnsembleResult", "parameter_grid", "seed_members", "InProcessExecutor",
           "LocalPoolExecutor", "DaskExecutor", "MPIExecutor", "MemberJob", "run_member_attempt"]


def __getattr__(name):
    # The pool, Dask and MPI executors load their machinery (multiprocessing, dask, MPI) only when used.
    if name == "LocalPoolExecutor":
        from .executor_pool import LocalPoolExecutor
        return LocalPoolExecutor
    if name == "DaskExecutor":
        from .executor_dask import DaskExecutor
        return DaskExecutor
    if name == "MPIExecutor":
        from .executor_mpi import MPIExecutor
        return MPIExecutor
    raise AttributeError(f"module 'hyflow.ensemble' has no attribute {name!r}")
