"""Build and load generated C++: the system compiler, a disk cache, dlopen through ctypes.

    lib = load_module(source)          # -> LoadedModule: .address(symbol), .cache ("hit"|"miss"), .seconds

Why C++ source and the system compiler (docs/compiler.md, "Codegen"): the sources include only the
Eigen-free csrc/kernels/scalar_math.h, so a cold compile of a fused group takes a fraction of a second,
GCC/Clang vectorize the simple loops we emit, and nothing is needed beyond the compiler every HPC machine
has. A machine without one still works: every failure here raises :class:`ToolchainError` with the reason,
and the caller replays the group's ops.

**Disk cache.** ``$HYFLOW_CACHE_DIR`` (default ``~/.cache/hyflow``) / ``compiler/<hyflow version>/``;
one ``<key>.so`` and its sidecar ``<key>.json`` per module, the key a SHA-256 of the source, the
header's text, the compiler's identity (path and ``--version``), the flags, the CPU capability and the
hyflow version. Writes go to a private temporary file that is then renamed over the final name
(``os.replace`` is atomic), the ``.so`` first and the sidecar (its size and SHA-256) last, so a reader that
finds a sidecar finds a complete library. Several processes compiling the same module at once each write
their own temporary file; the last rename wins and every one loads a complete file. Before ``dlopen`` the
library is checked against its sidecar (a truncated or foreign file is rebuilt, never loaded), and after
it the expected symbol must exist.
"""
import ctypes
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

from ..._atomic import atomic_write
from .. import _log

__all__ = ["ToolchainError", "LoadedModule", "load_module", "cache_dir", "compiler_command", "compile_flags",
           "HEADER_DIR"]

#: Folder holding scalar_math.h: an installed package has it under hyflow/include/kernels (CMake installs
#: csrc/'s headers there), a source checkout in csrc/kernels.
_HERE = os.path.dirname(os.path.abspath(__file__))
_HEADER_CANDIDATES = [os.path.normpath(os.path.join(_HERE, "..", "..", "include", "kernels")),
                      os.path.normpath(os.path.join(_HERE, "..", "..", "..", "..", "csrc", "kernels"))]
HEADER_DIR = next((d for d in _HEADER_CANDIDATES if os.path.exists(os.path.join(d, "scalar_math.h"))), None)

_COMPILE_TIMEOUT_S = 120

#: The headers generated code includes (their text is part of every cache key).
_HEADERS = ("scalar_math.h", "fast_math.h", "stream_store.h")


class ToolchainError(RuntimeError):
    """Compiling or loading generated code failed; the message names the reason."""


class LoadedModule:
    """A loaded library: ``address(symbol)`` gives a function's address; ``cache`` is "hit", "miss"
    (compiled now) or "rebuilt" (a corrupt cache entry replaced); ``seconds`` what compile or load took."""

    def __init__(self, lib, path, cache, seconds):
        self.lib, self.path, self.cache, self.seconds = lib, path, cache, seconds

    def address(self, symbol):
        try:
            fn = getattr(self.lib, symbol)
        except AttributeError:
            raise ToolchainError(f"{self.path} has no symbol {symbol}") from None
        return ctypes.cast(fn, ctypes.c_void_p).value


def cache_dir():
    from ... import __version__
    root = os.environ.get("HYFLOW_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hyflow")
    return os.path.join(root, "compiler", __version__)


def compiler_command():
    """The C++ compiler: ``$CXX``, else ``c++``, else ``g++`` (ToolchainError when none exists)."""
    cxx = os.environ.get("CXX")
    if cxx:
        path = shutil.which(cxx)
        if path is None:
            raise ToolchainError(f"no C++ compiler: CXX={cxx!r} was not found")
        return path
    for name in ("c++", "g++", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    raise ToolchainError("no C++ compiler found (set CXX, or install g++ or clang++)")


@functools.lru_cache(maxsize=None)
def _compiler_identity(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainError(f"C++ compiler {path} does not run: {e}") from None
    if out.returncode != 0:
        raise ToolchainError(f"C++ compiler {path} --version failed: {out.stderr.strip()[:200]}")
    return path + "\n" + out.stdout.strip()


def _capability():
    from ...backends import cpu
    return cpu.get_cpu_capability()


def compile_flags(capability=None):
    """Flags for generated code. The target ISA follows the CPU capability hyflow runs with
    (``HYFLOW_CPU_CAPABILITY`` caps it), so generated code never uses an instruction set the user
    disabled: ``avx512`` -> ``-march=native`` (the running CPU), ``avx2`` -> ``-march=x86-64-v3``,
    ``default`` -> ``-march=x86-64-v2``. No ``-ffast-math``: NaN, inf and signed zeros must be eager's,
    and ``-ffp-contract=off``: ``x * y + 1`` must round twice, as two eager ops do, not once in an FMA.
    ``-fopenmp-simd`` honours the ``#pragma omp simd reduction`` of row kernels (vector-lane partial sums
    without -ffast-math); it needs no OpenMP runtime."""
    capability = capability or _capability()
    flags = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off",
             "-fopenmp-simd", "-fvisibility=hidden", "-w"]
    if platform.machine() in ("x86_64", "AMD64"):
        flags += {"avx512": ["-march=native"], "avx2": ["-march=x86-64-v3", "-mtune=native"]}.get(
            capability, ["-march=x86-64-v2", "-mtune=native"])
    return flags


@functools.lru_cache(maxsize=None)
def _header_digest():
    if HEADER_DIR is None:
        raise ToolchainError("scalar_math.h was not found beside the hyflow package")
    h = hashlib.sha256()
    for name in _HEADERS:
        with open(os.path.join(HEADER_DIR, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_loaded = {}  # key -> LoadedModule (this process)


def module_key(source, flags, cxx):
    from ... import __version__
    h = hashlib.sha256()
    for part in (source, _header_digest(), _compiler_identity(cxx), " ".join(flags), _capability(), __version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


def _valid(so_path, meta_path, symbols):
    """Whether a cache entry is complete and ours: the sidecar exists, parses, names the symbols, and
    the library's size and SHA-256 match it."""
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if not isinstance(meta, dict) or meta.get("symbols") != list(symbols):
            return False
        if os.path.getsize(so_path) != meta.get("size"):
            return False
        return _sha256_file(so_path) == meta.get("sha256")
    except (OSError, ValueError):
        return False


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _compile(cxx, flags, source, directory, so_path):
    """Compile ``source`` into a private temporary library, then rename it to ``so_path``."""
    fd, src_tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".cpp")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    fd, so_tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".so")
    os.close(fd)
    try:
        cmd = [cxx] + flags + ["-I", HEADER_DIR, src_tmp, "-o", so_tmp]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as e:
            raise ToolchainError(f"running the C++ compiler failed: {e}") from None
        if out.returncode != 0:
            err = (out.stderr or out.stdout).strip().splitlines()
            first = next((line for line in err if "error" in line), err[0] if err else "")
            raise ToolchainError(f"the C++ compiler failed (exit {out.returncode}): {first[:300]}")
        os.replace(so_tmp, so_path)
    finally:
        _unlink(src_tmp)
        _unlink(so_tmp)


def _dlopen(path, fresh):
    """dlopen ``path``. ``fresh``: the loader already holds a library opened under this name (a foreign file
    we rejected) and would hand it back, so open the rebuilt file through a private link instead."""
    if not fresh:
        return ctypes.CDLL(path)
    alias = f"{path}.{os.getpid()}.{time.monotonic_ns()}.so"
    try:
        os.link(path, alias)
    except OSError:
        shutil.copyfile(path, alias)
    try:
        return ctypes.CDLL(alias)
    finally:
        _unlink(alias)


def _build_entry(cxx, flags, source, directory, so_path, meta_path, symbols):
    """Compile into the cache and write the sidecar that validates the library."""
    _compile(cxx, flags, source, directory, so_path)
    meta = {"symbols": list(symbols), "size": os.path.getsize(so_path), "sha256": _sha256_file(so_path),
            "compiler": _compiler_identity(cxx).splitlines()[-1], "flags": flags}
    atomic_write(meta_path, [json.dumps(meta).encode()])
    if not _valid(so_path, meta_path, symbols):
        # Another process renamed its (identical) build over ours between the two writes: describe the
        # file as it is now (its own sidecar write will say the same).
        meta["size"], meta["sha256"] = os.path.getsize(so_path), _sha256_file(so_path)
        atomic_write(meta_path, [json.dumps(meta).encode()])


def load_module(source, symbols):
    """Compile (or find in the disk cache) and load ``source`` defining ``symbols``; a LoadedModule."""
    t0 = time.perf_counter()
    cxx = compiler_command()
    flags = compile_flags()
    key = module_key(source, flags, cxx)
    mod = _loaded.get(key)
    if mod is not None:
        return LoadedModule(mod.lib, mod.path, "hit", time.perf_counter() - t0)
    directory = cache_dir()
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise ToolchainError(f"cannot create the compiler cache folder {directory}: {e}") from None
    so_path = os.path.join(directory, key + ".so")
    meta_path = os.path.join(directory, key + ".json")
    cache = "hit"
    for attempt in range(2):
        if attempt or not _valid(so_path, meta_path, symbols):
            if cache == "hit":
                cache = "rebuilt" if os.path.exists(so_path) or os.path.exists(meta_path) else "miss"
            _build_entry(cxx, flags, source, directory, so_path, meta_path, symbols)
        try:
            lib = _dlopen(so_path, fresh=attempt > 0)
        except OSError as e:
            if attempt:
                raise ToolchainError(f"loading {so_path} failed: {e}") from None
            cache = "rebuilt"
            continue
        mod = LoadedModule(lib, so_path, cache, 0.0)
        try:
            for s in symbols:
                mod.address(s)
            break
        except ToolchainError:
            # A foreign library under our name (its sidecar matched, its symbols do not): rebuild it once.
            if attempt:
                raise
            cache = "rebuilt"
    mod.seconds = time.perf_counter() - t0
    _loaded[key] = mod
    _log.log(f"codegen: module {key[:12]} {cache} in {mod.seconds * 1e3:.1f} ms ({so_path})")
    return mod
