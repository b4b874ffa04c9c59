"""Hypothesis strategies shared by the tests: random exportable models and int8 inputs."""
import numpy as np
from hypothesis import strategies as st

from host_tools.oracle import modelfile


@st.composite
def models(draw, max_in=48, max_width=40, max_layers=3, l2norm=None):
    """A model dict within the exporter's limits, sometimes right at the accumulator bound."""
    in_dim = draw(st.integers(1, max_in))
    n_dense = draw(st.integers(1, max_layers))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    layers = []
    width = in_dim
    for i in range(n_dense):
        n_out = draw(st.integers(1, max_width))
        wmax = draw(st.sampled_from([1, 8, 127, 128]))
        w = rng.integers(-wmax, min(wmax, 127) + 1, size=(n_out, width)).astype(np.int8)
        if draw(st.booleans()):
            # shifts that keep typical outputs inside int8, so few values saturate
            typical = np.abs(w.astype(np.int64)).sum(axis=1) * 64 // 127 // max(1, int(width ** 0.5))
            shift = np.array([min(24, int(t).bit_length()) for t in typical], np.uint8)
        else:
            shift = rng.integers(0, draw(st.sampled_from([1, 12, 25])), size=n_out).astype(np.uint8)
        slack = modelfile.ACC_LIMIT - 1 - modelfile.row_bounds(w, np.zeros(n_out, np.int64), shift)
        edge = draw(st.booleans())
        mag = slack if edge else np.minimum(slack, 1 << 16)
        b = (rng.integers(-1, 2, size=n_out) * mag if edge else
             rng.integers(-mag, mag + 1)).astype(np.int32)
        layers.append({"type": "dense", "w": w, "b": b, "shift": shift, "out_scale": 0.05})
        if draw(st.booleans()):
            layers.append({"type": "relu", "n": n_out})
        width = n_out
    if l2norm if l2norm is not None else draw(st.booleans()):
        layers.append({"type": "l2norm", "n": width})
    return {"in_dim": in_dim, "input_scale": 0.03, "layers": layers}


def inputs(in_dim):
    return st.binary(min_size=in_dim, max_size=in_dim).map(lambda b: np.frombuffer(b, np.int8))
