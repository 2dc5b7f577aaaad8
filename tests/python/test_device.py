"""hy.device objects, hy.cuda and hy.accelerator: what device-agnostic PyTorch code asks."""
import copy
import pickle

import pytest

import hyflow as hy


def test_device_objects_like_torch():
    d = hy.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert repr(d) == "device(type='cuda', index=1)"
    assert hy.device("cuda", 1) == d and hy.device(d) == d
    c = hy.device("cpu")
    assert (c.type, c.index, repr(c)) == ("cpu", None, "device(type='cpu')")
    assert c == "cpu" and c != "cuda" and hash(c) == hash("cpu")
    assert pickle.loads(pickle.dumps(d)) == d and copy.deepcopy(c) == c


def test_bad_devices_raise_naming_the_problem():
    with pytest.raises(RuntimeError, match="unknown device type"):
        hy.device("tpu")
    with pytest.raises(RuntimeError, match="invalid device string"):
        hy.device("cuda:x")
    with pytest.raises(ValueError, match="index"):
        hy.device("cuda", -1)
    with pytest.raises(ValueError, match="already names an index"):
        hy.device("cuda:0", 1)
    with pytest.raises(TypeError, match="type must be a string"):
        hy.device(3)


def test_tensor_device_is_a_device_that_equals_its_string():
    t = hy.ones(2)
    assert isinstance(t.device, hy.device)
    assert t.device.type == "cpu" and t.device == "cpu" and str(t.device) == "cpu"
    assert {t.device: 1}["cpu"] == 1


def test_device_objects_are_accepted_where_strings_are():
    cpu = hy.device("cpu")
    assert hy.zeros(3, device=cpu).device == cpu
    assert hy.ones(2).to(cpu).device == "cpu"
    assert hy.ones(2).to(hy.ones(1).device).device.type == "cpu"


def test_device_agnostic_idiom_runs_on_the_cpu():
    dev = hy.device("cuda" if hy.cuda.is_available() else "cpu")
    model = hy.nn.Linear(3, 2).to(dev)
    assert model(hy.ones(4, 3, device=dev)).device == dev
    assert hy.accelerator.current_accelerator() is None and not hy.accelerator.is_available()
    assert hy.cuda.device_count() == 0 and hy.accelerator.device_count() == 0


def test_cuda_calls_without_cuda_raise_clearly():
    assert hy.cuda.is_available() is False
    for fn in (hy.cuda.current_device, hy.cuda.synchronize, hy.cuda.get_device_name):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            fn()
    hy.cuda.manual_seed(0)  # silently nothing to seed, as torch without CUDA
    hy.cuda.manual_seed_all(0)
