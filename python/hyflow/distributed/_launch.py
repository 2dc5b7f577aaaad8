"""Who launched this process: read the environment that mpirun, mpiexec (MPICH/Hydra, PMI/PMIx), srun
and torchrun-style launchers set, before MPI is touched."""
import os

# (launcher, rank variable, size variable), most specific first.
_LAUNCHERS = (
    ("openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("pmi", "PMI_RANK", "PMI_SIZE"),
    ("mvapich", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS"),  # srun; sbatch alone sets no step
    ("env", "RANK", "WORLD_SIZE"),  # torchrun-style
)
MPI_LAUNCHERS = ("openmpi", "pmi", "mvapich", "slurm")


class Launch:
    """What the environment says: the launcher's name, this process's rank and the world size."""

    def __init__(self, launcher, rank, size):
        self.launcher, self.rank, self.size = launcher, rank, size

    @property
    def is_mpi(self):
        return self.launcher in MPI_LAUNCHERS

    def __repr__(self):
        return f"Launch(launcher={self.launcher!r}, rank={self.rank}, size={self.size})"


def _int(env, name):
    v = env[name]
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"hyflow.distributed.init: environment variable {name}={v!r} is not an integer") from None


def detect(environ=None):
    """The first launcher whose rank and size variables are both set, or None (a plain `python x.py`)."""
    env = os.environ if environ is None else environ
    for name, rank_var, size_var in _LAUNCHERS:
        if rank_var in env and size_var in env:
            rank, size = _int(env, rank_var), _int(env, size_var)
            if size < 1 or not 0 <= rank < size:
                raise ValueError(f"hyflow.distributed.init: {rank_var}={rank} and {size_var}={size} "
                                 "do not describe a valid rank")
            return Launch(name, rank, size)
    return None


def timeout_from_env(default=1800.0):
    """HYFLOW_DIST_TIMEOUT in seconds (<= 0: wait forever), else `default`."""
    v = os.environ.get("HYFLOW_DIST_TIMEOUT")
    if v is None or v.strip() == "":
        return float(default)
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"HYFLOW_DIST_TIMEOUT={v!r} is not a number of seconds") from None


def _mca_flag(env, name, default):
    """An Open MPI MCA boolean that mpirun passes on to the ranks as OMPI_MCA_<name>."""
    v = env.get(f"OMPI_MCA_{name}")
    if v is None:
        return default
    return v.strip().lower() not in ("0", "false", "f", "no", "n", "disabled")


def nonzero_exit_aborts_job(environ=None):
    """Whether the launcher kills every rank as soon as one exits with a non-zero status. Open MPI's mpirun
    does, unless run with --enable-recovery or --mca orte_abort_on_non_zero_status 0; so does MPICH's
    Hydra. Assumed for launchers that do not say otherwise."""
    env = os.environ if environ is None else environ
    if _mca_flag(env, "orte_enable_recovery", False):
        return False
    return _mca_flag(env, "orte_abort_on_non_zero_status", True)
