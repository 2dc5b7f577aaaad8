"""Module semantics: registration, traversal, modes, state_dict, to(dtype), apply, repr, Parameter."""
import math

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.block = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
        self.bn = nn.BatchNorm1d(2)
        self.register_buffer("scale", hy.ones(2))
        self.register_buffer("tmp", hy.zeros(1), persistent=False)

    def forward(self, x):
        return self.bn(self.block(self.fc1(x))) * self.scale


def test_parameter_is_tensor_leaf_sharing_memory():
    base = hy.randn(3, 2)
    p = nn.Parameter(base)
    assert isinstance(p, hy.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and not base.requires_grad
    assert p.data_ptr() == base.data_ptr()
    assert not nn.Parameter(base, requires_grad=False).requires_grad
    assert not isinstance(p * 2, nn.Parameter)
    assert "Parameter containing" in repr(p)
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


def test_registration_and_traversal():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "block.1.weight", "block.1.bias", "bn.weight", "bn.bias"]
    assert [n for n, _ in m.named_buffers()] == ["scale", "tmp", "bn.running_mean", "bn.running_var",
                                                  "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["fc1", "block", "bn"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "block", "block.0", "block.1", "bn"]
    assert m.get_submodule("block.1") is m.block[1]
    assert m.get_parameter("block.1.bias") is m.block[1].bias
    assert m.fc1.weight is next(m.parameters())
    assert len(list(m.parameters(recurse=False))) == 0
    # shared parameters are listed once
    seq = nn.Sequential(m.fc1, m.fc1)
    assert len(list(seq.parameters())) == 2
    with pytest.raises(TypeError, match="parameter"):
        m.fc1.weight = hy.zeros(4, 3)
    with pytest.raises(AttributeError):
        m.nothing


def test_train_eval_zero_grad_requires_grad():
    m = Net()
    assert m.training and m.bn.training
    m.eval()
    assert not m.training and not m.block[0].training
    m.train()
    assert m.bn.training
    m(hy.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum().item()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_state_dict_roundtrip_and_strict_errors(tmp_path):
    m, m2 = Net(), Net()
    sd = m.state_dict()
    assert list(sd) == ["fc1.weight", "fc1.bias", "block.1.weight", "block.1.bias", "bn.weight", "bn.bias",
                        "scale", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"] or \
        set(sd) == {"fc1.weight", "fc1.bias", "block.1.weight", "block.1.bias", "bn.weight", "bn.bias", "scale",
                    "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}
    assert "tmp" not in sd
    assert not sd["fc1.weight"].requires_grad
    hy.save(dict(sd), str(tmp_path / "m.safetensors"))
    res = m2.load_state_dict(hy.load(str(tmp_path / "m.safetensors")))
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in m2.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(sd[k]))
    bad = dict(sd)
    del bad["fc1.bias"]
    bad["extra"] = hy.zeros(1)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "fc1.bias"') as ei:
        m2.load_state_dict(bad)
    assert 'Unexpected key(s) in state_dict: "extra"' in str(ei.value)
    res = m2.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra"]
    bad = dict(sd, **{"fc1.weight": hy.zeros(2, 2)})
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        m2.load_state_dict(bad)


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
def test_load_state_dict_accepts_torch_tensors_and_arrays():
    # A torch state dict used to fail with "expected a Tensor, got Tensor".
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    hm = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    res = hm.load_state_dict(tm.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (k, a), (_, b) in zip(hm.state_dict().items(), tm.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    # copied, not shared: the torch model can change afterwards
    with torch.no_grad():
        tm[0].weight.add_(1)
    assert not np.array_equal(hm[0].weight.detach().numpy(), tm[0].weight.detach().numpy())
    # parameters that require grad, a non-contiguous view, a float64 source (cast like torch's copy_), NumPy
    src = {"0.weight": tm[0].weight, "0.bias": torch.arange(8.0, dtype=torch.float64)[::2],
           "2.weight": np.full((2, 4), 3.0), "2.bias": tm[2].bias.detach()}
    hm.load_state_dict(src)
    np.testing.assert_array_equal(hm[0].weight.detach().numpy(), tm[0].weight.detach().numpy())
    assert hm[0].bias.tolist() == [0.0, 2.0, 4.0, 6.0] and hm[0].bias.dtype == hy.float32
    assert hm[2].weight.tolist() == [[3.0] * 4] * 2
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with shape \(2, 2\)"):
        hm.load_state_dict(dict(src, **{"0.weight": torch.zeros(2, 2)}))
    with pytest.raises(RuntimeError, match=r'"0.bias", expected a Tensor or an array with __dlpack__/__array__, '
                                           r"got list"):
        hm.load_state_dict(dict(src, **{"0.bias": [1.0, 2.0, 3.0, 4.0]}))
    with pytest.raises(RuntimeError, match=r"got torch\.Tensor \(__dlpack__: .*; __array__: "):
        hm.load_state_dict(dict(src, **{"0.bias": torch.zeros(4, dtype=torch.complex32)}))  # no hyflow dtype


def test_to_dtype_apply_and_identity():
    m = Net()
    w = m.fc1.weight
    m.to(hy.float64)
    assert m.fc1.weight.dtype == hy.float64 and m.scale.dtype == hy.float64
    assert isinstance(m.fc1.weight, nn.Parameter) and m.fc1.weight.requires_grad
    assert m.bn.num_batches_tracked.dtype == hy.int64
    assert w.dtype == hy.float32
    m.float()
    assert m.fc1.weight.dtype == hy.float32
    with pytest.raises(TypeError):
        m.to(hy.int32)
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "BatchNorm1d", "Net"]

    def init_fn(mod):
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.weight)
    m.apply(init_fn)
    assert float(m.fc1.weight.abs().sum().item()) == 0


def test_repr_like_torch():
    m = nn.Sequential(nn.Linear(2, 3), nn.ModuleList([nn.ReLU(), nn.Dropout(0.1)]),
                      nn.Conv2d(1, 2, 3, padding=1), nn.LayerNorm(3))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ModuleList(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        "  (2): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (3): LayerNorm((3,), eps=1e-05, elementwise_affine=True)\n"
        ")")


def test_containers():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and ml[-1] is ml[2] and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    assert len(ml) == 4
    md = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Tanh()})
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(list(md.parameters())) == 2
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    with pytest.raises(IndexError):
        seq[5]


def test_default_init_matches_torch_formulas():
    g = hy.Generator(seed=0)
    lin = nn.Linear(400, 300, generator=g)
    bound = 1 / math.sqrt(400)
    w = np.asarray(lin.weight.detach())
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    conv = nn.Conv2d(8, 16, 3, generator=g)
    cb = 1 / math.sqrt(8 * 9)
    assert np.abs(np.asarray(conv.weight.detach())).max() <= cb
    assert np.abs(np.asarray(conv.bias.detach())).max() <= cb
    t = hy.empty(200, 100)
    nn.init.xavier_uniform_(t, generator=g)
    a = math.sqrt(6 / 300)
    assert np.abs(np.asarray(t)).max() <= a and np.abs(np.asarray(t)).max() > 0.95 * a
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", generator=g)
    assert abs(np.asarray(t).std() - math.sqrt(2 / 200)) < 0.01
    nn.init.xavier_normal_(t, gain=2.0, generator=g)
    assert abs(np.asarray(t).std() - 2 * math.sqrt(2 / 300)) < 0.01
    assert nn.init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(hy.empty(3))
    # same seed -> same weights
    a1 = nn.Linear(4, 4, generator=hy.Generator(seed=3)).weight
    a2 = nn.Linear(4, 4, generator=hy.Generator(seed=3)).weight
    np.testing.assert_array_equal(np.asarray(a1.detach()), np.asarray(a2.detach()))


def test_deepcopy_module_and_tensors():
    import copy
    m = Net()
    m(hy.randn(4, 3)).sum().backward()
    m2 = copy.deepcopy(m)
    for (k, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
        assert isinstance(b, nn.Parameter) and b is not a and b.requires_grad and b.is_leaf
        assert a.data_ptr() != b.data_ptr()
        np.testing.assert_array_equal(np.asarray(a.detach()), np.asarray(b.detach()))
        np.testing.assert_array_equal(np.asarray(a.grad), np.asarray(b.grad))
    assert m2.bn.running_var.data_ptr() != m.bn.running_var.data_ptr()
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(m.fc1.weight * 2)
