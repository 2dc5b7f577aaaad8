"""The ensemble's folder on disk, and every write into it atomic (hyflow._atomic: temp file, fsync,
rename), so a crash at any instant leaves each file complete, old or new:

    <directory>/
      ensemble.json            the members ({id: params}) and steps; checked on resume
      results.json, results.csv  the table (rewritten as members finish)
      members/<id>/
        params.json            this member's parameters
        checkpoints/           the member workflow's checkpoints (rank-NNNNN/ under MPI)
        result.json            its row, written when it finished (ok, or failed after its retries)

A member whose result.json says "ok" for the same parameters and steps is finished: resuming the
ensemble reuses that row instead of running it again.
"""
import json
import os

from .._atomic import atomic_write

__all__ = ["EnsembleStore"]


def write_json(path, value):
    atomic_write(path, [json.dumps(value, indent=1, allow_nan=False).encode()])


def read_json(path):
    """The parsed file, or None when it is missing or unreadable (a torn write cannot happen, but a user
    may have edited or truncated it: such a member simply runs again)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class EnsembleStore:
    def __init__(self, directory):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"Ensemble: directory must be a path, got {type(directory).__name__}")
        self.directory = os.path.abspath(os.fspath(directory))

    def member_dir(self, member_id):
        return os.path.join(self.directory, "members", member_id)

    def checkpoint_dir(self, member_id):
        return os.path.join(self.member_dir(member_id), "checkpoints")

    def has_previous_run(self):
        """Whether an earlier run left members here (a manifest, or any member folder)."""
        members = os.path.join(self.directory, "members")
        return os.path.exists(os.path.join(self.directory, "ensemble.json")) or \
            (os.path.isdir(members) and bool(os.listdir(members)))

    def check_manifest(self, members):
        """Refuse to resume into a folder whose members had other parameters: their checkpoints and
        rows would be mixed into this table. New members may be added; steps may change (a finished
        member with fewer steps is extended from its checkpoint)."""
        manifest = read_json(os.path.join(self.directory, "ensemble.json"))
        known = (manifest or {}).get("members", {}) if isinstance(manifest, dict) else {}
        for member_id, params in members.items():
            if member_id in known and known[member_id] != params:
                raise ValueError(f"Ensemble: {self.directory} holds member {member_id} with parameters "
                                 f"{known[member_id]}, not {params}: use another directory (or delete that one) "
                                 "for a different sweep")
            stored = read_json(os.path.join(self.member_dir(member_id), "params.json"))
            if stored is not None and stored != params:
                raise ValueError(f"Ensemble: {self.member_dir(member_id)} holds a member with parameters "
                                 f"{stored}, not {params}: use another directory for a different sweep")

    def write_manifest(self, members, steps):
        os.makedirs(self.directory, exist_ok=True)
        manifest = read_json(os.path.join(self.directory, "ensemble.json"))
        merged = dict((manifest or {}).get("members", {})) if isinstance(manifest, dict) else {}
        merged.update(members)
        write_json(os.path.join(self.directory, "ensemble.json"), {"members": merged, "steps": steps})

    def prepare_member(self, member_id, params):
        os.makedirs(self.checkpoint_dir(member_id), exist_ok=True)
        path = os.path.join(self.member_dir(member_id), "params.json")
        if read_json(path) != params:
            write_json(path, params)

    def finished_row(self, member_id, params, steps):
        """The member's stored row if it finished ok with these parameters and steps, else None."""
        row = read_json(os.path.join(self.member_dir(member_id), "result.json"))
        if isinstance(row, dict) and row.get("status") == "ok" and row.get("params") == params and \
                row.get("steps") == steps:
            return row
        return None

    def write_row(self, row):
        os.makedirs(self.member_dir(row["member"]), exist_ok=True)
        write_json(os.path.join(self.member_dir(row["member"]), "result.json"), row)

    def write_table(self, table):
        os.makedirs(self.directory, exist_ok=True)
        write_json(os.path.join(self.directory, "results.json"), table.rows)
        atomic_write(os.path.join(self.directory, "results.csv"), [table.to_csv().encode()])
