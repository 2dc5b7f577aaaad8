"""ONNX inference: hyflow eager vs hyflow -> ONNX Runtime vs torch eager vs torch -> ONNX Runtime, and the
per-call overhead of hy.onnx.InferenceSession over ORT's own run_with_iobinding.

Models: an MLP 784-512-512-10 and the climate example's surrogate (examples/climate/surrogate.py,
TendencySurrogate(hidden=32): 27 -> 2 per grid point), at batch 1, 64 and 4096, float32, inference mode
(no grad). Times are microseconds per call (median). hyflow -> ORT is `sess(x)`: hyflow tensors in and
out through I/O binding. torch -> ORT exports with torch.onnx.export (TorchScript exporter, offline) and
runs ORT's run_with_iobinding on torch's buffers; the column is empty when that export fails here.
Overhead rows: the climate surrogate at batch 1: `sess(x)` (a fresh output each call), `sess.run([x],
out=[y])` (same buffers: nothing rebound) and ORT's run_with_iobinding on a prepared binding.
Coupled rows: the climate example's workflow (benchmarks/coupling/hyflow_workflow.py, 32 x 32, 600 steps,
surrogate from step 400) with the surrogate's inference eager and through ORT (--surrogate-runtime ort):
the round trip state -> tendency after the switch (median, ms) and the infer body's time inside it.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_onnx.py --threads 2
"""
import io
import os
import sys

import numpy as np

from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
import hyflow.nn as nn
import hyflow.onnx  # noqa: F401

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "climate"))
import surrogate as sg  # noqa: E402

BATCHES = (1, 64, 4096)


def hy_mlp():
    gen = hy.Generator(seed=0)
    return nn.Sequential(nn.Linear(784, 512, generator=gen), nn.ReLU(), nn.Linear(512, 512, generator=gen), nn.ReLU(),
                         nn.Linear(512, 10, generator=gen)).eval()


def hy_surrogate():
    model = sg.make_model(seed=0, hidden=32)
    rows = hy.randn(256, sg.PATCH_FEATURES)
    model.set_normalisation(rows, hy.randn(256, sg.OUTPUTS))
    return model.eval()


def torch_copy(torch, model, kind):
    """The same network in torch, with the same weights."""
    def lin(l):
        t = torch.nn.Linear(l.in_features, l.out_features)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(l.weight.detach().numpy()))
            t.bias.copy_(torch.from_numpy(l.bias.detach().numpy()))
        return t
    if kind == "mlp":
        return torch.nn.Sequential(lin(model[0]), torch.nn.ReLU(), lin(model[2]), torch.nn.ReLU(), lin(model[4])).eval()

    class Surrogate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = lin(model.linear)
            self.mlp = torch.nn.Sequential(lin(model.mlp[0]), torch.nn.GELU(), lin(model.mlp[2]), torch.nn.GELU(),
                                           lin(model.mlp[4]))
            for name in ("input_shift", "input_scale", "output_scale"):
                self.register_buffer(name, torch.from_numpy(getattr(model, name).numpy().copy()))

        def forward(self, x):
            x = (x - self.input_shift) / self.input_scale
            return (self.linear(x) + self.mlp(x)) * self.output_scale
    return Surrogate().eval()


def torch_ort(torch, tmodel, x, threads):
    """(callable running ORT's run_with_iobinding on torch's buffers, None) or (None, why)."""
    import onnxruntime as ort
    buf = io.BytesIO()
    try:
        torch.onnx.export(tmodel, (x,), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "b"}, "y": {0: "b"}}, dynamo=False)
    except Exception as err:  # noqa: BLE001 - whatever the exporter raises offline
        return None, f"torch.onnx.export failed: {str(err).splitlines()[0][:120]}"
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as hy.onnx.InferenceSession
    sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        y = tmodel(x)
    b = sess.io_binding()
    b.bind_input("x", "cpu", 0, np.float32, list(x.shape), x.data_ptr())
    b.bind_output("y", "cpu", 0, np.float32, list(y.shape), y.data_ptr())
    # the closure holds x and y: ORT writes into y's buffer on every call
    return (lambda _keep=(x, y): sess.run_with_iobinding(b)), None


def model_rows(args, torch, name, model, features):
    rows, notes = [], []
    buf = io.BytesIO()
    hy.onnx.export(model, (hy.randn(2, features),), buf, input_names=["x"], output_names=["y"],
                   dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    sess = hy.onnx.InferenceSession(buf.getvalue(), threads=args.threads)
    tmodel = torch_copy(torch, model, name) if torch else None
    for batch in BATCHES:
        x = hy.randn(batch, features)
        with hy.no_grad():
            eager = timeit(lambda: model(x), args.repeats)
        r = {"case": f"{name} b{batch}", "unit": "us/call", "hyflow": eager * 1e6, "hy_ort": timeit(lambda: sess(x),
                                                                                                    args.repeats) * 1e6}
        if tmodel is not None:
            tx = torch.from_numpy(x.numpy().copy())
            with torch.inference_mode():
                r["torch"] = timeit(lambda: tmodel(tx), args.repeats) * 1e6
            run, why = torch_ort(torch, tmodel, tx, args.threads)
            if run is not None:
                r["torch_ort"] = timeit(run, args.repeats) * 1e6
            elif why not in notes:
                notes.append(why)
        r["ort_vs_eager"] = r["hyflow"] / r["hy_ort"]
        rows.append(r)
    return rows, notes, sess


def overhead_rows(args, sess, features):
    x = hy.randn(1, features)
    out = [sess(x)]
    ort_sess = sess.ort_session
    y = hy.empty(list(out[0].shape))
    b = ort_sess.io_binding()
    b.bind_input("x", "cpu", 0, np.float32, [1, features], x.data_ptr())
    b.bind_output("y", "cpu", 0, np.float32, list(y.shape), y.data_ptr())
    base = timeit(lambda: ort_sess.run_with_iobinding(b), args.repeats, min_time=0.2) * 1e6
    fresh = timeit(lambda: sess(x), args.repeats, min_time=0.2) * 1e6
    same = timeit(lambda: sess.run([x], out=out), args.repeats, min_time=0.2) * 1e6
    return [{"case": "surrogate b1 ORT run_with_iobinding", "unit": "us/call", "hy_ort": base},
            {"case": "surrogate b1 sess(x)", "unit": "us/call", "hy_ort": fresh, "overhead": fresh - base},
            {"case": "surrogate b1 sess.run(out=)", "unit": "us/call", "hy_ort": same, "overhead": same - base}]


def coupled_rows(args):
    """The climate workflow's round trip with the eager and the ORT surrogate (same run otherwise)."""
    import dataclasses
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "coupling"))
    import coupling
    import hyflow_workflow
    import round_trip
    rows = []
    steps, switch = (300, 200) if args.quick else (600, 400)
    for runtime in ("eager", "ort"):
        config = dataclasses.replace(coupling.RunConfig(nx=32, ny=32, steps=steps, switch_step=switch, seed=0),
                                     surrogate_runtime=runtime)
        run = hyflow_workflow.run(coupling.Setup(config))
        summary = round_trip.summary(round_trip.pool([run["round_trips"]]))
        rows.append({"case": f"climate round trip ({runtime})", "unit": "ms", "roundtrip": summary["p50_ms"],
                     "ml": summary["ml_p50_ms"], "online_error": run["online_error"]})
    return rows


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    rows, notes = [], []
    sess = None
    for name, model, features in (("mlp", hy_mlp(), 784), ("surrogate", hy_surrogate(), sg.PATCH_FEATURES)):
        r, n, sess = model_rows(args, torch, name, model, features)
        rows += r
        notes += [x for x in n if x not in notes]
    rows += overhead_rows(args, sess, sg.PATCH_FEATURES)
    rows += coupled_rows(args)
    notes += ["columns: microseconds per inference call (lower is better); 'ORT vs eager' = hyflow eager time / "
              "hyflow->ORT time (> 1: ORT is faster)",
              "overhead rows: 'overhead' = the call minus ORT's own run_with_iobinding on a prepared binding",
              "climate rows: median round trip state -> tendency after the switch, and the ML bodies' time in it "
              "(ms); ORT re-exports the surrogate after each training, inside that time",
              f"ORT intra-op threads = hyflow threads = torch threads = {args.threads}",
              f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} (unset it for this benchmark, see docstring)"]
    if torch is None:
        notes.append("torch not installed: torch columns empty")
    report("onnx", rows,
           [("case", "case", None), ("unit", "unit", None), ("hyflow", "hyflow eager", "{:.1f}"),
            ("hy_ort", "hyflow->ORT", "{:.1f}"), ("torch", "torch eager", "{:.1f}"),
            ("torch_ort", "torch->ORT", "{:.1f}"), ("ort_vs_eager", "ORT vs eager", "{:.2f}x"),
            ("overhead", "overhead", "{:.1f}"), ("roundtrip", "round trip p50", "{:.3f}"),
            ("ml", "infer+train p50", "{:.3f}")], args, notes=notes)


if __name__ == "__main__":
    main()
