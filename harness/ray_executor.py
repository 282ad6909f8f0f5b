"""The Ray back end of the executor: every (paper, experiment, framework, seed) run is one Ray task.

A task runs `executor._seed_in_worker`, the function the local worker processes run, in a worker pinned the
same way (the thread count and the framework environment travel with the task and are checked there), so a
seed's metrics do not depend on the back end. Results stream back as tasks finish and only the driver saves
them (runs.jsonl has one writer). A worker process that dies mid-task is restarted by Ray (`MAX_RETRIES`);
a seed's result reaches the driver once or not at all, so nothing is lost or saved twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
from functools import cache

from . import executor, numerics
from .errors import ConfigError, HarnessError

MAX_RETRIES = 3  # a worker killed (OOM killer, a lost node) is restarted this often before the run fails
LOCAL_OBJECT_STORE_BYTES = 80 * 2**20  # a seed returns a few floats: the store holds almost nothing
# What pins a worker's numerics besides the thread count (read once, when the frameworks are imported).
# and the device reproductions train on (`reproduce --device`): a Ray worker does not inherit the driver's
# environment, and without it a GPU run would silently train on the worker's CPU.
PINNED_ENV = ("HARNESS_REGISTRY", "HARNESS_DEVICE", *numerics._TF_ENV)
_ADDRESS = re.compile(r"auto|ray://[^\s:/]+:\d+|[^\s:/]+:\d+")


class RayWorkerError(HarnessError):
    """A seed's worker died more often than Ray retries it, or the cluster went away."""


def check_address(address: str) -> None:
    if not _ADDRESS.fullmatch(address):
        raise ConfigError(f"--address {address!r} is not a Ray address: use 'auto' (the cluster this machine "
                          "belongs to), 'ray://HOST:10001' (Ray Client) or 'HOST:6379' (the head node's GCS)")


def _probe(address: str, seconds: float = 10.0) -> None:
    """A HOST:PORT that does not answer is refused now: ray.init would retry it for ever."""
    import socket

    if address == "auto":  # Ray finds the local cluster's address itself and fails at once without one
        return
    host, port = address.removeprefix("ray://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as e:
        raise ConfigError(f"cannot reach a Ray cluster at {address!r} ({e.strerror or e}); start one with "
                          "`ray start --head` or leave out --address for a local instance") from None


def pinned_env() -> dict[str, str]:
    """The environment a worker needs to compute what a local worker process computes: the thread count
    always, the registry and the framework flags where this process has them (a spawn worker inherits them)."""
    env = {"HARNESS_THREADS": str(numerics.THREADS)}
    env.update({k: os.environ[k] for k in PINNED_ENV if k in os.environ})
    return env


def _seed_task(threads: int, *args):
    """Runs in a Ray worker: refuse a worker whose thread pin differs (its sums would round differently)."""
    from . import numerics as worker_numerics

    if worker_numerics.THREADS != threads:
        raise ConfigError(f"a Ray worker is pinned to {worker_numerics.THREADS} threads, the driver to {threads}; "
                          "set HARNESS_THREADS alike on every node")
    return executor._seed_in_worker(*args)


@cache
def _remote():
    import ray

    return ray.remote(max_retries=MAX_RETRIES)(_seed_task)


@contextlib.contextmanager
def session(address: str | None):
    """Connected to Ray for the block: the cluster at `address`, else a new local instance sized to this
    machine (every core, a small object store, no dashboard) that ends with the block. A connection made
    before (a test's, a notebook's) is used as it is and left open."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        check_address(address)
        _probe(address)
    # ray.init installs its own SIGTERM handler (sys.exit); the CLI's handlers say what was kept: restore them.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        if address is None:  # "local": a new instance even where RAY_ADDRESS names a cluster
            ray.init(address="local", num_cpus=os.cpu_count(), object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as e:  # ConnectionError, a timeout, a version mismatch: Ray raises many kinds
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
        hint = "start one with `ray start --head` or leave out --address" if address else "see `ray status`"
        raise ConfigError(f"cannot connect to {where}: {detail:.200}; {hint}") from None
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    try:
        yield ray
    finally:
        ray.shutdown()


def run_in_ray(pending, finish, progress_factory, address: str | None = None, device: str = "cpu") -> None:
    """The pending (plan, task) seed runs (executor.run_plans) as Ray tasks, every paper's in one queue;
    `finish(plan, task, result)` as each one returns (any order).

    A task asks for as many CPUs as the threads it is pinned to, and for one GPU when `device` is one."""
    with session(address) as ray:
        options = {"num_cpus": numerics.THREADS, "num_gpus": 1 if device.startswith("cuda") else 0,
                   "runtime_env": {"env_vars": pinned_env()}}
        remote = _remote().options(**options)
        refs = {remote.remote(numerics.THREADS, *executor._seed_args(plan, task)): (plan, task)
                for plan, task in pending}
        label = f"{executor.queue_name(pending)} [ray, {len(refs)} runs]"
        bar = progress_factory(label, len(refs)) if progress_factory else None
        remaining = list(refs)
        try:
            while remaining:
                # a timeout, so that Ctrl-C and SIGTERM are handled within a second while every task runs
                ready, remaining = ray.wait(remaining, num_returns=1, timeout=1.0)
                for ref in ready:
                    finish(*refs[ref], _result(ray, ref, refs[ref][1]))
                    if bar:
                        bar.update(1)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: the CLI first says what was kept, then ends the session (ray.shutdown stops this
            # job's tasks). Force-cancelling here could make Ray 2.60's core worker abort the driver ("Tried to
            # complete task that was not pending") before that line was printed.
            raise
        except BaseException:
            for ref in remaining:  # a failed seed: stop the rest now
                with contextlib.suppress(Exception):  # the error that stopped us is the one to report
                    ray.cancel(ref, force=True)
            raise
        finally:
            if bar:
                bar.close()


def _result(ray, ref, task):
    """A task's (metrics, dataset, curves, diverged, CPU seconds) (a diverged training is a result: see
    executor._run_seed); the seed's own exception is raised as itself, a worker that kept dying as one line
    naming the run."""
    framework, exp, seed, _ = task
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.RaySystemError) as e:
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RayWorkerError(f"the Ray worker running {exp.name} [{framework}] seed {seed} died "
                             f"{MAX_RETRIES + 1} times ({detail:.160}); finished runs are saved: rerun with "
                             "--resume") from None
