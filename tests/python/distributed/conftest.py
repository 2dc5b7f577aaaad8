"""Fixtures shared by the distributed tests."""
import pytest

import hyflow.distributed as dist
from test_dist_local import LAUNCHER_VARS


@pytest.fixture
def world(monkeypatch):
    """A fresh single-process world, whatever launcher variables the test runner inherited."""
    for v in LAUNCHER_VARS:
        monkeypatch.delenv(v, raising=False)
    dist.destroy_process_group()
    dist.init()
    yield
    dist.destroy_process_group()
