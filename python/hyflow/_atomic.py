"""Writing files so that a crash leaves the old version or the new one, never a mix: temp file in the
same folder, flush + fsync, rename over the target, fsync the folder. Used by hy.save and the workflow
checkpoints and traces.
"""
import os
import uuid

__all__ = ["atomic_write", "fsync_directory", "create_temp"]


def atomic_write(path, chunks):
    """Replace ``path`` with the concatenation of the byte strings in ``chunks``, atomically."""
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


def create_temp(directory, base):
    """A new empty file ``.{base}.<random>.tmp`` in ``directory``.

    O_EXCL with a random name instead of tempfile.mkstemp: mkstemp forces mode 0600, while a checkpoint
    should get the usual 0666 & ~umask like any other file the user writes."""
    while True:
        tmp = os.path.join(directory, f".{base}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


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
