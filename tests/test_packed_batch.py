"""PackedStep (tf steps fed many small arrays through one conversion per dtype): in every mode the step sees
exactly the arrays passed (values, shapes, dtypes, names in order), and it traces once per set of shapes."""

import numpy as np
import pytest

from harness import numerics
from harness.packed_batch import PackedStep

tf = numerics.import_framework("tf")


def _batch(rng, n=3):
    return {"x": rng.normal(size=(n, 4, 2)),  # float64
            "mask": (rng.random((n, 5)) < 0.5).astype(np.float32),
            "y": rng.integers(0, 10, size=n).astype(np.int64),
            "w": rng.normal(size=(n,)).astype(np.float32),
            "empty": np.zeros((n, 0), np.float32),
            "scale": np.float32(rng.normal())}  # a 0-d array


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_the_step_sees_the_arrays_passed(mode):
    seen = []

    def fn(batch):
        seen.append(list(batch))
        return {k: tf.identity(v) for k, v in batch.items()}

    step = PackedStep(fn, mode)
    rng = np.random.default_rng(0)
    for _ in range(2):  # the second call runs the traced function
        batch = _batch(rng)
        out = step(batch)
        assert seen[-1] == list(batch)
        for k, a in batch.items():
            got = out[k].numpy()
            assert got.dtype == np.asarray(a).dtype and got.shape == np.shape(a), k
            np.testing.assert_array_equal(got, a, err_msg=k)


def test_one_trace_per_set_of_shapes():
    traces = []

    def fn(batch):
        traces.append(tuple(batch["x"].shape))
        return batch["x"], batch["m"]

    step = PackedStep(fn, "function")
    rng = np.random.default_rng(1)
    for n in (4, 4, 4, 2, 4, 2):
        x, m = rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 5)).astype(np.float32)
        got_x, got_m = step({"x": x, "m": m})
        np.testing.assert_array_equal(got_x.numpy(), x)
        np.testing.assert_array_equal(got_m.numpy(), m)
    assert traces == [(4, 3), (2, 3)]
