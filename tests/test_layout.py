"""Round trips (hypothesis) and semantics (against the frameworks' own ops) of every layout conversion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness import layout

dims = st.integers(1, 5)


def _arr(shape):
    return arrays(np.float64, shape, elements=st.floats(-10, 10, allow_nan=False, width=64))


@given(st.tuples(dims, dims).flatmap(_arr))
def test_dense_round_trip(w):
    assert np.array_equal(layout.dense_from_torch(layout.dense_to_torch(w)), w)
    assert layout.dense_to_torch(w).shape == w.shape[::-1]


@given(st.tuples(dims, dims, dims, dims).flatmap(_arr))
def test_conv_round_trip(k):
    t = layout.conv_to_torch(k)
    assert t.shape == (k.shape[3], k.shape[2], k.shape[0], k.shape[1])
    assert np.array_equal(layout.conv_from_torch(t), k)
    assert np.array_equal(layout.conv_transpose_from_torch(layout.conv_transpose_to_torch(k)), k)


@given(st.tuples(dims, dims, dims, dims).flatmap(_arr))
def test_depthwise_round_trip(k):
    t = layout.depthwise_to_torch(k)
    assert t.shape == (k.shape[2] * k.shape[3], 1, k.shape[0], k.shape[1])
    assert np.array_equal(layout.depthwise_from_torch(t, channels=k.shape[2]), k)


@given(st.tuples(dims, dims, dims, dims).flatmap(_arr))
def test_images_round_trip(x):
    assert np.array_equal(layout.nchw_to_nhwc(layout.nhwc_to_nchw(x)), x)


@given(dims, dims, dims, dims, st.data())
def test_flatten_rows_round_trip_and_meaning(h, w, c, out, data):
    kernel = data.draw(_arr((h * w * c, out)))
    x = data.draw(_arr((2, h, w, c)))
    permuted = layout.flatten_rows_nhwc_to_nchw(kernel, h, w, c)
    assert np.array_equal(layout.flatten_rows_nchw_to_nhwc(permuted, h, w, c), kernel)
    # the same features flattened in each order give the same dense output
    nhwc = x.reshape(2, -1) @ kernel
    nchw = layout.nhwc_to_nchw(x).reshape(2, -1) @ permuted
    np.testing.assert_allclose(nhwc, nchw, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_lstm_round_trip(n_in, hidden, data):
    k = data.draw(_arr((n_in, 4 * hidden)))
    r = data.draw(_arr((hidden, 4 * hidden)))
    b = data.draw(_arr((4 * hidden,)))
    t = layout.lstm_to_torch(k, r, b)
    assert t["weight_ih"].shape == (4 * hidden, n_in)
    back = layout.lstm_from_torch(t["weight_ih"], t["weight_hh"], t["bias_ih"], t["bias_hh"])
    assert np.array_equal(back["kernel"], k) and np.array_equal(back["recurrent_kernel"], r)
    assert np.array_equal(back["bias"], b)


@given(st.integers(1, 4), st.data())
def test_reorder_gates_round_trip(hidden, data):
    w = data.draw(_arr((3, 3 * hidden)))
    torch_order, keras_order = ("r", "z", "n"), ("z", "r", "n")
    there = layout.reorder_gates(w, torch_order, keras_order)
    assert np.array_equal(there[:, :hidden], w[:, hidden : 2 * hidden])
    assert np.array_equal(layout.reorder_gates(there, keras_order, torch_order), w)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="depthwise"):
        layout.depthwise_from_torch(np.zeros((6, 2, 3, 3)), channels=3)
    with pytest.raises(ValueError, match="rows"):
        layout.flatten_rows_nhwc_to_nchw(np.zeros((10, 2)), 2, 2, 2)
    with pytest.raises(ValueError, match="gate sets"):
        layout.reorder_gates(np.zeros(4), ("a", "b"), ("a", "c"))


def test_bn_conventions():
    assert layout.bn_momentum_torch_to_keras(0.1) == pytest.approx(0.9)
    assert layout.unbiased_variance(np.array(1.0), 4) == pytest.approx(4 / 3)


# --- semantics against the frameworks ---------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 2]), st.data())
def test_conv_layout_means_the_same_convolution(torch, tf, cin_g, cout_g, k, groups, data):
    cin, cout = cin_g * groups, cout_g * groups
    kernel = data.draw(_arr((k, k, cin_g, cout)))
    x = data.draw(_arr((1, 5, 5, cin)))
    ours = torch.nn.functional.conv2d(
        torch.from_numpy(layout.nhwc_to_nchw(x)), torch.from_numpy(layout.conv_to_torch(kernel)), groups=groups
    ).numpy()
    theirs = tf.nn.conv2d(x, kernel, strides=1, padding="VALID").numpy() if groups == 1 else \
        tf.keras.layers.Conv2D(cout, k, groups=groups, use_bias=False, dtype="float64")
    if groups != 1:
        layer = theirs
        layer.build((1, 5, 5, cin))
        layer.kernel.assign(kernel)
        theirs = layer(x).numpy()
    np.testing.assert_allclose(layout.nchw_to_nhwc(ours), theirs, rtol=1e-10, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_depthwise_layout_means_the_same_convolution(torch, tf, c, m, data):
    kernel = data.draw(_arr((3, 3, c, m)))
    x = data.draw(_arr((1, 4, 4, c)))
    ours = torch.nn.functional.conv2d(
        torch.from_numpy(layout.nhwc_to_nchw(x)), torch.from_numpy(layout.depthwise_to_torch(kernel)), groups=c
    ).numpy()
    theirs = tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID").numpy()
    np.testing.assert_allclose(layout.nchw_to_nhwc(ours), theirs, rtol=1e-10, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_lstm_layout_means_the_same_lstm(torch, tf, n_in, hidden, data):
    """torch.nn.LSTM and keras.layers.LSTM with converted weights give the same sequence output."""
    k = data.draw(_arr((n_in, 4 * hidden)).map(lambda a: a / 10))
    r = data.draw(_arr((hidden, 4 * hidden)).map(lambda a: a / 10))
    b = data.draw(_arr((4 * hidden,)).map(lambda a: a / 10))
    x = data.draw(_arr((2, 3, n_in)).map(lambda a: a / 10))
    t = layout.lstm_to_torch(k, r, b)
    lstm = torch.nn.LSTM(n_in, hidden, batch_first=True).double()
    with torch.no_grad():
        for name, value in t.items():
            getattr(lstm, f"{name}_l0").copy_(torch.from_numpy(value))
    ours = lstm(torch.from_numpy(x))[0].detach().numpy()
    layer = tf.keras.layers.LSTM(hidden, return_sequences=True, dtype="float64", unit_forget_bias=False,
                                 activation="tanh", recurrent_activation="sigmoid")
    layer.build((2, 3, n_in))
    layer.set_weights([k, r, b])
    np.testing.assert_allclose(ours, layer(x).numpy(), rtol=1e-10, atol=1e-10)
