import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the opinfo package beside the tests


def pytest_configure(config):
    # scripts/sanitize.sh deselects these with -m "not forks": GCC 12's libasan is not fork-safe in a
    # multithreaded process (see the comment there); the ordinary run covers them.
    config.addinivalue_line("markers", "forks: the test forks the (multithreaded) test process")
