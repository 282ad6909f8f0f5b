"""ConvertedBatch (backprop tf's per-sweep input conversion): reused only while the very same arrays
hold the very same values; any change is converted again, so the tensors always hold what was passed."""

import numpy as np

from harness.converted_batch import ConvertedBatch


def _counting():
    calls = []

    def convert(batch):
        calls.append(1)
        return {k: np.array(v, dtype=np.float64) for k, v in batch.items()}

    return ConvertedBatch(convert), calls


def test_the_same_unchanged_arrays_are_converted_once():
    tensors, calls = _counting()
    batch = {"x": np.ones((4, 3), np.float32), "target": np.zeros((4, 1), np.float32)}
    first = tensors(batch)
    assert tensors(batch) is first and tensors(dict(batch)) is first and len(calls) == 1


def test_an_array_changed_in_place_is_converted_again():
    tensors, calls = _counting()
    batch = {"x": np.ones((4, 3), np.float32)}
    tensors(batch)
    batch["x"][2, 1] = 7.0
    assert tensors(batch)["x"][2, 1] == 7.0 and len(calls) == 2


def test_a_new_array_or_a_new_key_is_converted_again():
    tensors, calls = _counting()
    x = np.ones((4, 3), np.float32)
    tensors({"x": x})
    assert tensors({"x": x.copy()})["x"].sum() == 12 and len(calls) == 2  # equal values, another array
    assert set(tensors({"x": x, "target": x[:, :1]})) == {"x", "target"} and len(calls) == 3


def test_a_sign_of_zero_or_a_reshape_in_place_is_a_change():
    """np.array_equal would call -0.0 and 0.0 equal and keep the old tensor; the bytes, dtype and shape do not."""
    tensors, calls = _counting()
    batch = {"x": np.zeros((2, 3), np.float32)}
    tensors(batch)
    batch["x"][0, 0] = -0.0
    assert np.signbit(tensors(batch)["x"][0, 0]) and len(calls) == 2
    batch["x"].shape = (3, 2)
    assert tensors(batch)["x"].shape == (3, 2) and len(calls) == 3
