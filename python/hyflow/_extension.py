"""Where the installed C++ API lives, for building extensions out of tree (docs/extending.md).

    cmake -S myext -B build -DCMAKE_PREFIX_PATH="$(python -c 'import hyflow; print(hyflow.cmake_prefix_path())')"
"""
import os as _os

__all__ = ["cmake_prefix_path", "get_include"]

_PKG_DIR = _os.path.dirname(_os.path.abspath(__file__))


def cmake_prefix_path():
    """The prefix to add to CMAKE_PREFIX_PATH so that ``find_package(hyflow CONFIG)`` finds hyflow."""
    return _PKG_DIR


def get_include():
    """The folder to put on the compiler's include path for ``#include "dispatch/registry.h"`` and friends."""
    path = _os.path.join(_PKG_DIR, "include")
    if not _os.path.isdir(path):
        raise RuntimeError(f"hyflow's C++ headers are not installed at {path}; this looks like a developer "
                           "build: install hyflow with `pip install .` to build extensions")
    return path
