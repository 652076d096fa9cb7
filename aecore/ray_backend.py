"""Sweeps on a Ray cluster (`aecore sweep --backend ray [--address ADDR]`).

Each config trains as a Ray task, which returns the run's files (bytes) to the caller; the
caller writes them into its own cache atomically, so the cluster needs no shared filesystem.
The heads and the map are then computed here, as in a local sweep. Ray is an optional extra.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator

from aecore import lab, store
from aecore.config import TrainConfig
from aecore.errors import AecoreError, MissingExtra
from aecore.sweep import Outcome, derive, reason

INSTALL = "pip install -e '.[cluster]' in a checkout, else pip install 'aecore[cluster]'"
CONNECT_SECONDS = 5


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingExtra(f"the ray backend needs Ray, an optional extra: {INSTALL}") from None
    return ray


def train_files(cfg_dict: dict, device: str) -> store.Files:
    """Runs in a Ray task: train one config from scratch and return its run folder's files."""
    from aecore import data as datasets
    from aecore.train import DoneEvent, pick_device
    from aecore.train import run as train_loop

    cfg = TrainConfig.from_dict(cfg_dict)
    dev = str(pick_device(device))
    data = datasets.load(cfg.dataset)
    for event in train_loop(cfg, data, None, dev):
        if isinstance(event, DoneEvent):
            return lab.run_files(cfg, event, dev, data.test_x)
    raise AecoreError("the training ended without a result")


def _check_address(address: str | None) -> None:
    """A HOST:PORT that does not answer is one sentence at once (Ray itself retries for
    minutes); "auto" and other forms are left to Ray."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except (OSError, ValueError):
        raise AecoreError(f"no Ray cluster answers at {address} (is its head node running "
                          "and is the address HOST:PORT of its GCS, usually port 6379?)") from None


def _message(exc: Exception) -> str:
    """The task's own error (Ray wraps it with a traceback) in one line."""
    cause = getattr(exc, "cause", None)
    return str(cause) if cause is not None else str(exc).strip().splitlines()[-1]


def _land(cfg: TrainConfig, files: store.Files) -> lab.Run:
    run_id = cfg.key()
    with store.lock(f"run-{run_id}"):
        if (cached := lab.find_complete(run_id)) is not None:  # trained here meanwhile
            return cached
        store.write_artefact(store.run_dir(run_id), files)
    return lab.load_run(run_id)


def run_ray(configs: list[TrainConfig], address: str | None = None, device: str = "auto",
            cpus_per_task: float = 1, step: Callable[[str], None] = lambda _: None
            ) -> Iterator[Outcome]:
    """Outcomes in the order the tasks end; configs already trained here are reused."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        _check_address(address)
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    try:
        remote = ray.remote(train_files).options(
            num_cpus=cpus_per_task, num_gpus=1 if device.startswith("cuda") else 0,
            max_retries=0)
        pending, reused = {}, []
        for cfg in configs:  # every task first, so the cluster trains while this derives
            if (cached := lab.find_complete(cfg.key())) is not None:
                reused.append((cfg, cached))
            else:
                pending[remote.remote(cfg.to_dict(), device)] = cfg
        for cfg, cached in reused:
            step(f"reused {cfg.model} k={cfg.latent_dim}")
            yield _derived(cfg, cached, step)
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            cfg = pending.pop(ref)
            try:
                run = _land(cfg, ray.get(ref))
            except (ray.exceptions.RayError, AecoreError) as exc:
                step(f"failed {cfg.model} k={cfg.latent_dim}")
                yield Outcome(cfg, None, _message(exc))
                continue
            step(f"trained {cfg.model} k={cfg.latent_dim}")
            yield _derived(cfg, run, step)
    finally:
        if started_here:
            ray.shutdown()


def _derived(cfg: TrainConfig, run: lab.Run, step: Callable[[str], None]) -> Outcome:
    try:
        derive(run, step)
    except Exception as exc:  # reported for this config; the others still land
        return Outcome(cfg, None, reason(exc))
    return Outcome(cfg, run.run_id)
