"""Sweeps on a Ray cluster (`aecore sweep --backend ray [--address ADDR]`).

Each config trains as a Ray task on the dataset the caller ships it (once, through Ray's object
store), and returns the run's files (bytes) to the caller; the caller writes them into its own
cache atomically, so the cluster needs no shared filesystem and no copy of the data.
The heads and the map are then computed here, as in a local sweep. Ray is an optional extra.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator

from aecore.core.config import TrainConfig
from aecore.core.errors import AecoreError, ClusterUnavailable, InvalidConfig, MissingExtra
from aecore.data import datasets
from aecore.runs import pipeline, store
from aecore.services.sweep import Outcome, derive, settle
from aecore.training.loop import pick_device

INSTALL = "pip install -e '.[cluster]' in a checkout, else pip install 'aecore[cluster]'"
CONNECT_SECONDS = 5


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingExtra(f"the ray backend needs Ray, an optional extra: {INSTALL}") from None
    return ray


def train_files(cfg_dict: dict, device: str, data: datasets.Dataset) -> store.Files:
    """Runs in a Ray task: train one config from scratch on the data shipped with it (an added
    dataset exists only in the caller's cache) and return its run folder's files."""
    cfg = TrainConfig.from_dict(cfg_dict)
    for item in pipeline.train_fresh(cfg, None, str(pick_device(device)), data):
        if isinstance(item, dict):
            return item
    raise AecoreError("the training ended without a result")


FORMS = ("auto (a cluster already running on this machine), HOST:PORT (its head node's GCS, "
         "usually port 6379) or ray://HOST:PORT (Ray Client, usually port 10001)")


def check(address: str | None, device: str) -> None:
    """What can be refused before connecting, so it is one sentence at once: Ray missing, an
    address of no known form or where nothing listens, a device this machine lacks."""
    _ray()
    _check_address(address)
    # A cluster started here has this machine's devices; a remote one's GPUs are counted once
    # connected (run_ray), since a laptop without CUDA may drive a cluster with GPUs.
    if address is None or not device.startswith("cuda"):
        pick_device(device)


def _host_port(address: str) -> tuple[str, int]:
    """HOST:PORT or ray://HOST:PORT -> (host, port); any other form is an InvalidConfig."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # an IPv6 literal, [::1]:6379
    if not (colon and host and "/" not in host and port.isascii() and port.isdecimal()
            and len(port) <= 5 and 0 < int(port) < 65536):
        raise InvalidConfig(f"{address!r} is not a Ray cluster address: give {FORMS}")
    return host, int(port)


def _check_address(address: str | None) -> None:
    """A HOST:PORT that does not answer is one sentence within CONNECT_SECONDS (Ray itself
    retries for 30 s to minutes); "auto" is checked by ray.init, which fails at once."""
    if address is None or address == "auto":
        return
    host, port = _host_port(address)
    hint = ("is its head node running, and is the port its GCS port (usually 6379), or with "
            "ray:// its Ray Client port (usually 10001)?")
    tls = os.environ.get("RAY_USE_TLS", "0") not in ("0", "")  # then not probed
    deadline = time.monotonic() + CONNECT_SECONDS
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS) as conn:
            speaks = tls or _speaks_grpc(conn, deadline)
    except OSError:  # refused, or silent for CONNECT_SECONDS
        raise ClusterUnavailable(f"no Ray cluster answers at {address}: {hint}") from None
    if not speaks:  # a web server, say: Ray would retry it for minutes
        raise ClusterUnavailable(f"something answers at {address}, but not a Ray cluster "
                                 f"(it does not speak gRPC): {hint}")


# HTTP/2's client preface and an empty SETTINGS frame: a gRPC server (both of Ray's ports)
# answers with a SETTINGS frame of its own (frame type 4, the 4th byte of its header).
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_grpc(conn: socket.socket, deadline: float) -> bool:
    """Whether the server behind conn answers the preface as a gRPC server does, by the
    deadline (a socket.timeout, an OSError, after it: a server that trickles bytes too)."""
    conn.sendall(_PREFACE)
    header = b""
    while len(header) < 9:
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = conn.recv(9 - len(header))
        if not chunk:
            break
        header += chunk
    return len(header) == 9 and header[3] == 4


def _connect(ray, address: str | None) -> None:
    """ray.init, its connection failures as one sentence rather than Ray's traceback."""
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        if address == "auto" and isinstance(exc, ConnectionError):  # found none, not a bad one
            raise ClusterUnavailable("the address auto found no Ray cluster running on this "
                                     "machine: start one with `ray start --head`, or give no "
                                     "address to start one for this sweep") from None
        raise ClusterUnavailable(f"could not connect to the Ray cluster at {address}: "
                                 f"{_message(exc)}") from None


def _check_gpus(ray, device: str) -> None:
    """A task asking for a GPU the cluster lacks would wait for one forever, silently."""
    if device.startswith("cuda") and ray.cluster_resources().get("GPU", 0) < 1:
        raise InvalidConfig(f"device {device!r} is not available: the Ray cluster has no GPU: "
                            "use auto or cpu")


def _message(exc: Exception) -> str:
    """The task's own error (Ray wraps it with a traceback) in one line."""
    cause = getattr(exc, "cause", None)
    return str(cause) if cause is not None else str(exc).strip().splitlines()[-1]


def _land(cfg: TrainConfig, files: store.Files) -> pipeline.Run:
    run_id = cfg.key()
    with store.lock(f"run-{run_id}"):
        if (cached := pipeline.find_complete(run_id)) is not None:  # trained here meanwhile
            return cached
        store.write_artefact(store.run_dir(run_id), files)
    return pipeline.load_run(run_id)


def run_ray(configs: list[TrainConfig], address: str | None = None, device: str = "auto",
            cpus_per_task: float = 1, step: Callable[[str], None] = lambda _: None
            ) -> Iterator[Outcome]:
    """Outcomes in the order the tasks end; configs already trained here are reused."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        check(address, device)
        _connect(ray, address)
    try:
        _check_gpus(ray, device)
        remote = ray.remote(train_files).options(
            num_cpus=cpus_per_task, num_gpus=1 if device.startswith("cuda") else 0,
            max_retries=0)
        pending, reused, todo = {}, [], []
        for cfg in configs:
            if (cached := pipeline.find_complete(cfg.key())) is not None:
                reused.append((cfg, cached))
            else:
                todo.append(cfg)
        # Every dataset loaded before any task starts (one that cannot load stops the sweep
        # with nothing left running), each put in the object store once for every task.
        shipped = {name: ray.put(datasets.load(name)) for name in {c.dataset for c in todo}}
        for cfg in todo:  # every task first, so the cluster trains while this derives
            pending[remote.remote(cfg.to_dict(), device, shipped[cfg.dataset])] = cfg
        for cfg, cached in reused:
            step(f"reused {cfg.model} k={cfg.latent_dim}")
            yield settle(cfg, lambda run=cached: run, lambda r: derive(r, step))
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
            yield settle(cfg, lambda run=run: run, lambda r: derive(r, step))
    finally:
        if started_here:
            ray.shutdown()

