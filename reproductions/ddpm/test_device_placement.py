"""DDPM's per-step tensors are built on the device of the batch they serve (checked on the `meta` device: no GPU)."""

import torch

from reproductions.ddpm.torch_impl import timestep_embedding


def test_the_timestep_embedding_is_built_on_the_timesteps_device():
    # Before the fix the frequency table was made on the CPU every step, so a cuda (here meta) batch failed.
    t = torch.zeros(3, device="meta")
    emb = timestep_embedding(t, 8, torch.float32)
    assert emb.device == t.device and emb.shape == (3, 8)
