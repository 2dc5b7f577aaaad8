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


def test_accelerator_index_and_synchronize_like_torch():
    if hy.cuda.is_available():
        assert hy.accelerator.current_device_index() == hy.cuda.current_device()
        hy.accelerator.synchronize()
        hy.accelerator.synchronize(0)
        hy.accelerator.synchronize(hy.device("cuda:0"))
        return
    # torch 2.13 without an accelerator raises this RuntimeError from both
    for fn in (hy.accelerator.current_device_index, hy.accelerator.synchronize):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            fn()


def test_backends_flags_and_queries_like_torch():
    b = hy.backends
    assert b.mps.is_available() is False and b.mps.is_built() is False
    assert b.cuda.is_built() is hy.build_info()["cuda"]
    assert b.cudnn.is_available() is hy.cuda.is_available() and b.cudnn.version() is None
    # torch's defaults; settable, and read by nothing in hyflow
    cudnn = b.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (True, False, False, True)
    assert b.cuda.matmul.allow_tf32 is False
    import hyflow.backends.cudnn as cudnn_mod
    assert cudnn_mod is cudnn
    try:
        cudnn.benchmark, cudnn.deterministic, b.cuda.matmul.allow_tf32 = True, True, True
        assert hy.backends.cudnn.benchmark and hy.backends.cudnn.deterministic and b.cuda.matmul.allow_tf32
        assert (hy.ones(2, 2) @ hy.ones(2, 2)).tolist() == [[2, 2], [2, 2]]
        with cudnn.flags(enabled=False, deterministic=False):
            assert not cudnn.enabled and not cudnn.deterministic and not cudnn.benchmark
        assert cudnn.enabled and cudnn.deterministic and cudnn.benchmark
    finally:
        cudnn.benchmark, cudnn.deterministic, b.cuda.matmul.allow_tf32 = False, False, False


def test_backends_match_torch_defaults():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("compares against a CPU-only torch")
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(hy.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert hy.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    assert hy.backends.mps.is_available() == torch.backends.mps.is_available()
