"""Hypothesis strategies shared by the tests: random exportable models and int8 inputs."""
import numpy as np
from hypothesis import strategies as st

from host_tools.oracle import modelfile


def _extras(draw, width, max_size=2):
    """Zero to max_size ReLU / L2-norm layers: leading, repeated, or after an L2 norm."""
    kinds = draw(st.lists(st.sampled_from(["relu", "l2norm"]), max_size=max_size))
    return [{"type": kind, "n": width} for kind in kinds]


def _row_params(draw, rng, n_out, row):
    """int8 weights (n_out, row), int32 biases and shifts as for a dense layer, sometimes with
    rows right at the accumulator bound; shifts either keep typical outputs inside int8 (few
    values saturate) or are arbitrary."""
    wmax = draw(st.sampled_from([1, 8, 127, 128]))
    w = rng.integers(-wmax, min(wmax, 127) + 1, size=(n_out, row)).astype(np.int8)
    if draw(st.booleans()):
        typical = np.abs(w.astype(np.int64)).sum(axis=1) * 64 // 127 // max(1, int(row ** 0.5))
        shift = np.array([min(24, int(t).bit_length()) for t in typical], np.uint8)
    else:
        shift = rng.integers(0, draw(st.sampled_from([1, 12, 25])), size=n_out).astype(np.uint8)
    slack = modelfile.ACC_LIMIT - 1 - modelfile.row_bounds(w, np.zeros(n_out, np.int64), shift)
    edge = draw(st.booleans())
    mag = slack if edge else np.minimum(slack, 1 << 16)
    b = (rng.integers(-1, 2, size=n_out) * mag if edge else
         rng.integers(-mag, mag + 1)).astype(np.int32)
    return w, b, shift


def _conv_front(draw, rng, channels, width, oddities):
    """1..3 conv1d / maxpool / avgpool layers over channel-major input; (layers, width)."""
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        length = width // channels
        kind = draw(st.sampled_from(["conv1d", "conv1d", "maxpool", "avgpool"]))
        if kind == "conv1d":
            k = draw(st.integers(1, min(length, 5)))
            stride = draw(st.integers(1, 3))
            out_ch = draw(st.integers(1, 6))
            w, b, shift = _row_params(draw, rng, out_ch, channels * k)
            layers.append({"type": "conv1d", "w": w.reshape(out_ch, channels, k), "b": b,
                           "shift": shift, "stride": stride, "out_scale": 0.05})
            channels = out_ch
            width = out_ch * ((length - k) // stride + 1)
            if draw(st.booleans()):
                layers.append({"type": "relu", "n": width})
        else:
            size = draw(st.integers(1, min(length, 6)))
            layers.append({"type": kind, "channels": channels, "size": size})
            width = channels * (length // size)
        if oddities:
            layers += _extras(draw, width, 1)
    return layers, width


@st.composite
def models(draw, max_in=48, max_width=40, max_layers=3, l2norm=None, conv=True, oddities=True):
    """A model dict within the exporter's limits, sometimes right at the accumulator bound.

    conv: sometimes (True), always ("always") or never (False) a front of conv1d / pooling
    layers (1-4 input channels) before the dense layers (then possibly none). oddities: leading and repeated ReLU / L2-norm layers."""
    use_conv = conv == "always" or (conv and draw(st.booleans()))
    if use_conv:
        channels = draw(st.integers(1, 4))
        in_dim = channels * draw(st.integers(1, max(1, max_in // channels)))
    else:
        in_dim = draw(st.integers(1, max_in))
    n_dense = draw(st.integers(0 if use_conv else 1, max_layers))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    layers = _extras(draw, in_dim) if oddities else []
    width = in_dim
    if use_conv:
        front, width = _conv_front(draw, rng, channels, in_dim, oddities)
        layers += front
    for i in range(n_dense):
        n_out = draw(st.integers(1, max_width))
        w, b, shift = _row_params(draw, rng, n_out, width)
        layers.append({"type": "dense", "w": w, "b": b, "shift": shift, "out_scale": 0.05})
        if draw(st.booleans()):
            layers.append({"type": "relu", "n": n_out})
        if oddities:
            layers += _extras(draw, n_out, 1)
        width = n_out
    if l2norm if l2norm is not None else draw(st.booleans()):
        layers.append({"type": "l2norm", "n": width})
    return {"in_dim": in_dim, "input_scale": 0.03, "layers": layers}


def inputs(in_dim):
    return st.binary(min_size=in_dim, max_size=in_dim).map(lambda b: np.frombuffer(b, np.int8))
