"""The surrogate's inference through ONNX Runtime (climate.py --surrogate-runtime ort).

Each time new weights arrive from training, the model is exported with hy.onnx.export (batch of stencil
rows as a dynamic axis) and loaded into an hy.onnx.InferenceSession; inference then runs in ORT on
hyflow's own buffers (the stencil patches are built by hyflow, the rows go to ORT without a copy, the
prediction comes back in a tensor hyflow allocated)."""
from __future__ import annotations

import io

import hyflow as hy

import shallow_water as sw
import surrogate as sg


class OrtSurrogate:
    """An exported copy of a TendencySurrogate's current weights, run by ONNX Runtime."""

    def __init__(self, model: sg.TendencySurrogate, threads: int | None = None):
        import hyflow.onnx  # noqa: F401 - raises ImportError naming what to pip install
        buf = io.BytesIO()
        example = hy.zeros(2, sg.PATCH_FEATURES, dtype=model.dtype)
        hy.onnx.export(model, (example,), buf, input_names=["patches"], output_names=["tendency"],
                       dynamic_axes={"patches": {0: "points"}, "tendency": {0: "points"}})
        self.model_bytes = buf.getvalue()
        self.session = hy.onnx.InferenceSession(self.model_bytes, threads=threads)
        self.dtype = model.dtype

    def predict_tendency(self, state: sw.State):
        """As surrogate.predict_tendency, with the MLP evaluated by ONNX Runtime."""
        nx, ny = state.u.shape
        patches = sg.stencil_patches(sg.state_features(state, self.dtype).unsqueeze(0))
        rows = self.session(patches)
        prediction = sg.rows_to_fields(rows, 1, nx, ny)[0].to(state.u.dtype)
        return prediction[0].contiguous(), prediction[1].contiguous()

    def save(self, path: str) -> None:
        from hyflow._atomic import atomic_write
        atomic_write(path, [self.model_bytes])
