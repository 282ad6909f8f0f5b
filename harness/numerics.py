"""Pinned numerics: threads, determinism flags, TF32 off, oneDNN rewrites off; and their record.

Both frameworks are imported through `import_framework`, so the environment is set before either
builds a kernel. torch is imported before tensorflow whenever both load (the other order has
crashed on the development machine).
"""

from __future__ import annotations

import os
import platform
import random
import sys
from functools import cache

import numpy as np

THREADS = int(os.environ.get("HARNESS_THREADS", "1"))

# Set before tensorflow is imported (they are read once, at import).
_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # quiet C++ info logs
    "TF_ENABLE_ONEDNN_OPTS": "0",  # oneDNN graph rewrites reorder float sums: off for reproducibility
    "TF_DETERMINISTIC_OPS": "1",  # older spelling of enable_op_determinism, kept for subprocesses
    "TF_USE_LEGACY_KERAS": "0",
}


@cache
def _torch():
    import torch

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(THREADS)
    except RuntimeError:  # already set by an earlier import in this process
        pass
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True  # implied by use_deterministic_algorithms; stated for the record
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False  # PITFALLS: cudnn TF32 is on by default
    torch.set_float32_matmul_precision("highest")
    return torch


@cache
def _tf():
    _torch()  # torch first, always
    for key, value in _TF_ENV.items():
        os.environ.setdefault(key, value)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    except RuntimeError:  # the runtime was initialised before us; record what it has
        pass
    tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)  # PITFALLS: TF32 on by default
    tf.get_logger().setLevel("ERROR")
    return tf


@cache
def _numpy_blas() -> None:
    """NumPy's BLAS gets the same thread count as the frameworks: results computed in NumPy (metrics,
    feature classifiers) then do not depend on the machine's core count, and a multi-threaded OpenBLAS
    does not fight the frameworks for the cores (10x slower small matmuls were measured under load)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=THREADS, user_api="blas")


def import_framework(framework: str):
    """Import and pin 'torch' or 'tf' (and NumPy's BLAS threads); returns the module."""
    _numpy_blas()
    return {"torch": _torch, "tf": _tf}[framework]()


def seed_everything(seed: int, framework: str | None = None) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if framework == "torch":
        _torch().manual_seed(seed)
    elif framework == "tf":
        _tf().keras.utils.set_random_seed(seed)


def cpu_model() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one (Linux: `platform.processor()` is
    empty there), else what `platform` knows."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def environment(frameworks: tuple[str, ...] = (), device: str = "cpu") -> dict:
    """The numerics environment recorded with every result; on a GPU also the GPU, its driver and the CUDA and
    cuDNN versions each framework was built with, and the TF32 flags (off: _torch, _tf)."""
    env = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        # Kernels are chosen per instruction set: two machines that differ here may round differently.
        "cpu": cpu_model(),
        "threads": THREADS,  # torch, tf and NumPy's BLAS
        "device": device,
    }
    if "torch" in frameworks:
        torch = _torch()
        env["torch"] = torch.__version__
        env["torch_deterministic"] = torch.are_deterministic_algorithms_enabled()
        env["torch_threads"] = torch.get_num_threads()
        env["torch_matmul_precision"] = torch.get_float32_matmul_precision()
        env["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # e.g. AVX2, AVX512
    if "tf" in frameworks:
        tf = _tf()
        env["tensorflow"] = tf.__version__
        env["keras"] = tf.keras.__version__
        env["tf_intra_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        env["tf_tf32"] = tf.config.experimental.tensor_float_32_execution_enabled()
        env["tf_onednn_opts"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if device != "cpu":
        env.update(gpu_provenance(frameworks, device))
    return env


def gpu_provenance(frameworks: tuple[str, ...], device: str) -> dict:
    """What a GPU run depends on beyond the CPU's: the card, its driver, CUDA/cuDNN, TF32 and determinism."""
    out: dict = {}
    if "torch" in frameworks:
        torch = _torch()
        index = int(device.split(":")[1]) if ":" in device else 0
        out.update(gpu_name=torch.cuda.get_device_name(index), torch_cuda=torch.version.cuda,
                   torch_cudnn=torch.backends.cudnn.version(), torch_matmul_tf32=torch.backends.cuda.matmul.allow_tf32,
                   torch_cudnn_tf32=torch.backends.cudnn.allow_tf32,
                   torch_cudnn_deterministic=torch.backends.cudnn.deterministic)
    if "tf" in frameworks:
        build = _tf().sysconfig.get_build_info()
        out.update(tf_cuda=build.get("cuda_version"), tf_cudnn=build.get("cudnn_version"))
    out["gpu_driver"] = _nvidia_driver()
    return out


def _nvidia_driver() -> str | None:
    """The driver version as nvidia-smi reports it (neither framework exposes it); None without nvidia-smi."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None
