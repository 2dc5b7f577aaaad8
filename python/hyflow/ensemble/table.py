"""The results table an ensemble run returns: one row (a dict) per member, in member order.

    row = {"member": "0003", "params": {"nu": 0.003, "forcing": 0.01}, "status": "ok" | "failed" | "skipped",
           "attempts": 1, "wall_s": 12.3, "start_step": 0, "steps": 300, "reused": False,
           "metrics": {"energy_ratio": 0.93, ...}, "error": None | {"task", "step", "type", "message", ...}}

A flat view (``params.nu``, ``metrics.energy_ratio``, ``error.task``, ...) feeds the CSV file and
``to_pandas()``; the JSON file keeps the nesting (and the failures' tracebacks).
"""
import csv
import io

__all__ = ["EnsembleResult", "STATUSES"]

STATUSES = ("ok", "failed", "skipped")
_FIXED = ("member", "status", "attempts", "wall_s", "start_step", "steps", "reused")
_ERROR_COLUMNS = ("task", "step", "type", "message")


class EnsembleResult(list):
    """A list of row dicts (see the module docstring), with views and summaries."""

    @property
    def rows(self):
        return list(self)

    def by_status(self, status):
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        return [row for row in self if row["status"] == status]

    @property
    def ok(self):
        return self.by_status("ok")

    @property
    def failed(self):
        return self.by_status("failed")

    @property
    def skipped(self):
        return self.by_status("skipped")

    def flat_rows(self):
        """The rows with params/metrics/error spread into dotted columns (no tracebacks)."""
        flat = []
        for row in self:
            out = {k: row.get(k) for k in _FIXED}
            out.update({f"params.{k}": v for k, v in row.get("params", {}).items()})
            out.update({f"metrics.{k}": v for k, v in (row.get("metrics") or {}).items()})
            error = row.get("error") or {}
            out.update({f"error.{k}": error.get(k) for k in _ERROR_COLUMNS})
            flat.append(out)
        return flat

    def columns(self):
        seen = {}
        for row in self.flat_rows():
            for k in row:
                seen.setdefault(k, None)
        return list(seen)

    def to_csv(self):
        """The flat view as CSV text (lists and dicts inside metrics are written as their repr)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns(), lineterminator="\n")
        writer.writeheader()
        for row in self.flat_rows():
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buf.getvalue()

    def to_pandas(self):
        """The flat view as a pandas DataFrame (one row per member, indexed by member id)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("EnsembleResult.to_pandas needs pandas: pip install pandas "
                              "(the rows themselves are plain dicts, and results.csv is beside them)") from None
        return pd.DataFrame(self.flat_rows(), columns=self.columns()).set_index("member")

    def summary(self):
        counts = {s: len(self.by_status(s)) for s in STATUSES}
        return f"{len(self)} members: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"

    def format(self):
        """A short human-readable table: member, status, wall time, parameters, and the failure reason."""
        lines = [self.summary()]
        for row in self:
            params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
            line = f"  {row['member']:>6}  {row['status']:<7} {row.get('wall_s') or 0.0:8.2f} s  {params}"
            if row.get("reused"):
                line += "  (finished earlier)"
            if row.get("error"):
                e = row["error"]
                where = f"task '{e['task']}' step {e['step']}: " if e.get("task") else ""
                line += f"  <- {where}{e.get('message')}"
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self):
        return f"EnsembleResult({self.summary()})"
