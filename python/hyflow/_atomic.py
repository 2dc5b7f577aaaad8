"""Writing files so that a crash leaves the old version or the new one, never a mix: temp file in the
same folder, flush + fsync, rename over the target, fsync the folder. Used by hy.save and the workflow
checkpoints and traces.

A writer killed mid-save (SIGKILL, power loss) leaves its temp file behind. Temp names carry the writer's
host and pid (``.{base}.{host}-{pid}.{random}.tmp``), so the next successful save of the same path removes
the temps of that path whose writer is dead; temps of live writers (another thread or process saving the
same path right now) stay. A temp from another host, or one named before hyflow recorded pids, is removed
once nobody has written to it for STALE_AFTER_S seconds.
"""
import os
import re
import socket
import time
import uuid

__all__ = ["atomic_write", "fsync_directory", "create_temp", "remove_stale_temps"]

STALE_AFTER_S = 3600.0


def atomic_write(path, chunks):
    """Replace ``path`` with the concatenation of the byte strings in ``chunks``, atomically."""
    started = time.time()
    directory = os.path.dirname(os.path.abspath(path))
    tmp = create_temp(directory, os.path.basename(path))
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(directory)
    remove_stale_temps(path, started)


def _host():
    # Only the characters a temp name can carry unambiguously: the host ends at the last '-'.
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def create_temp(directory, base):
    """A new empty file ``.{base}.{host}-{pid}.<random>.tmp`` in ``directory``.

    O_EXCL with a random name instead of tempfile.mkstemp: mkstemp forces mode 0600, while a checkpoint
    should get the usual 0666 & ~umask like any other file the user writes."""
    while True:
        tmp = os.path.join(directory, f".{base}.{_host()}-{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def remove_stale_temps(path, started):
    """Delete the temp files of ``path`` (named by create_temp, or by hyflow before it recorded pids)
    that no live writer uses: their writer was a process of this host that is gone, or, for another host
    or an unnamed writer, nothing was written to them in the STALE_AFTER_S seconds before ``started``."""
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = re.compile(re.escape(f".{base}.") + r"(?:(?P<host>[A-Za-z0-9-]*)-(?P<pid>\d+)\.)?[0-9a-f]{12}\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    host = _host()
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None:
            continue
        temp = os.path.join(directory, entry)
        if match["pid"] is not None and match["host"] == host:
            stale = _process_is_gone(int(match["pid"]))
        else:
            try:
                stale = os.stat(temp).st_mtime < started - STALE_AFTER_S
            except OSError:
                continue
        if stale:
            try:
                os.unlink(temp)
            except OSError:
                pass


def _process_is_gone(pid):
    if pid == os.getpid():
        return False  # another thread of this process is writing it right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive (someone else's), or not a pid we can check: keep it
    return False


def fsync_directory(directory):
    """Make renames inside ``directory`` durable; not every platform/filesystem can open a folder."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
