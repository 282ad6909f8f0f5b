"""DDPM's per-step tensors are built on the device of the batch they serve (checked on the `meta` device: no GPU)."""

import torch

from reproductions.ddpm import paper as ddpm
from reproductions.ddpm.torch_impl import Diffusion, timestep_embedding


def test_the_timestep_embedding_is_built_on_the_timesteps_device():
    # Before the fix the frequency table was made on the CPU every step, so a cuda (here meta) batch failed.
    t = torch.zeros(3, device="meta")
    emb = timestep_embedding(t, 8, torch.float32)
    assert emb.device == t.device and emb.shape == (3, 8)


def test_the_diffusion_tables_live_on_the_models_device():
    # They were made on the CPU whatever the device, so q_sample with cuda (here meta) timesteps failed.
    c = ddpm.MOONS_EPS["tiny"]
    diffusion = Diffusion(c, torch.float32, "meta")
    t = torch.zeros(4, dtype=torch.int64, device="meta")
    x = torch.zeros(4, 2, device="meta")
    assert diffusion.q_sample(x, t, x).device == t.device
    assert all(v.device == t.device for v in diffusion.tab.values())
