"""`aecore sweep` refuses a device or a Ray address that cannot work as `aecore train` does:
one line on stderr, exit 2, before any training and before Ray starts. No Ray cluster is
started here (that takes tens of seconds): Ray's entry points are replaced by tripwires."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import torch

from aecore import cli
from aecore.runs import pipeline

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here")


class WorkStarted(BaseException):
    """A tripwire: not an Exception, so no `except Exception` on the way swallows it."""


def trip(*args, **kwargs):
    raise WorkStarted("the sweep started work it should have refused first")


@pytest.fixture
def no_training(monkeypatch, tiny):
    """Training a tripwire; the tiny data served, as the sweep loads its data first."""
    monkeypatch.setattr(pipeline, "train", trip)


@pytest.fixture
def ray_module(monkeypatch, no_training):
    """Ray, with its tasks a tripwire (a task would start a local cluster on its own)."""
    ray = pytest.importorskip("ray", reason="the cluster extra: pip install -e '.[cluster]'")
    monkeypatch.setattr(ray, "remote", trip)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return ray


@pytest.fixture
def ray(monkeypatch, ray_module):
    """Ray, with starting or joining a cluster a tripwire too."""
    monkeypatch.setattr(ray_module, "init", trip)
    return ray_module


@pytest.fixture
def free_port():
    with socket.socket() as s:  # bound then closed: nobody listens on it
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweep_refused(capsys, *args) -> str:
    """Runs `aecore sweep ARGS` here; asserts one line on stderr, exit 2, nothing trained."""
    code = cli.main(["sweep", "--latent-dims", "2", "--epochs", "1", *args])
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, out.err
    assert lines[0].startswith("aecore: error:") and "Traceback" not in out.err
    assert out.out == "" and pipeline.list_runs() == []
    return lines[0]


@pytest.mark.parametrize("device", [
    "tpu", "banana", "meta", pytest.param("cuda", marks=NO_CUDA)])
def test_a_local_sweep_refuses_a_missing_device_before_training(device, no_training, capsys):
    assert f"device {device!r} is not available" in sweep_refused(capsys, "--device", device)


def test_a_local_sweep_without_its_data_is_one_line(no_training, monkeypatch, capsys):
    from aecore.core.errors import DatasetUnavailable
    from aecore.data import datasets

    def unavailable(name="mnist", download=True):  # as on a machine offline, without the files
        raise DatasetUnavailable(f"{name} is not available: set AECORE_DATA_DIR")

    monkeypatch.setattr(datasets, "load", unavailable)
    assert "fashion is not available" in sweep_refused(capsys, "--dataset", "fashion")


@pytest.mark.parametrize("device", ["tpu", pytest.param("cuda", marks=NO_CUDA)])
def test_a_ray_sweep_refuses_a_missing_device_before_ray_starts(device, ray, capsys):
    # cuda: a task asking for a GPU no node has waited for one forever, silently
    line = sweep_refused(capsys, "--backend", "ray", "--device", device)
    assert f"device {device!r} is not available" in line


@pytest.mark.parametrize("address", ["localhost", "ray://localhost", "localhost:port",
                                     ":6379", "head:0", "head:70000", "http://head:6379", ""])
def test_a_ray_address_of_no_known_form_says_the_forms(address, ray, capsys):
    line = sweep_refused(capsys, "--backend", "ray", "--address", address)
    assert f"{address!r} is not a Ray cluster address: give auto" in line
    assert "HOST:PORT" in line and "ray://HOST:PORT" in line


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_ray_address_where_nothing_listens_is_one_line(scheme, free_port, ray, capsys):
    address = f"{scheme}127.0.0.1:{free_port}"
    assert f"no Ray cluster answers at {address}:" in sweep_refused(
        capsys, "--backend", "ray", "--address", address)


def test_address_auto_without_a_cluster_is_one_line(ray_module, monkeypatch, capsys):
    from ray._private import services

    ray = ray_module  # the real ray.init, which fails at once when it finds no cluster, here
    # even if another test session runs one: Ray's "auto" joins any cluster it finds
    def no_gcs() -> list[str]:
        return []

    no_gcs.cache_clear = lambda: None  # ray.init clears the real one's cache
    monkeypatch.setattr(services, "find_gcs_addresses", no_gcs)
    monkeypatch.setattr(services, "find_bootstrap_address", lambda temp_dir: None)
    line = sweep_refused(capsys, "--backend", "ray", "--address", "auto")
    assert "found no Ray cluster running on this machine" in line
    assert not ray.is_initialized()


@pytest.fixture
def head_address():
    """HOST:PORT of a real gRPC server with no services: it answers as a head node's port
    does, until Ray asks it for something."""
    from concurrent import futures

    grpc = pytest.importorskip("grpc", reason="the cluster extra: pip install -e '.[cluster]'")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture
def web_address():
    """HOST:PORT of an HTTP/1 server (as if a person gave the dashboard's port)."""
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # its log would be a second line on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_port_that_is_not_ray_is_one_line(scheme, web_address, ray, capsys):
    """Ray's own client retried such a port for minutes, printing a warning every 5 s."""
    address = scheme + web_address
    line = sweep_refused(capsys, "--backend", "ray", "--address", address)
    assert f"something answers at {address}, but not a Ray cluster" in line


@pytest.mark.parametrize("error", [ConnectionError, RuntimeError, TimeoutError])
def test_a_failed_connection_is_one_line(error, head_address, ray, monkeypatch, capsys):
    def init(**kwargs):
        raise error("Ray's own account\nof what failed: version mismatch")

    monkeypatch.setattr(ray, "init", init)
    line = sweep_refused(capsys, "--backend", "ray", "--address", head_address)
    assert line.endswith(f"could not connect to the Ray cluster at {head_address}: of what "
                         "failed: version mismatch")


def test_a_remote_cluster_without_gpus_refuses_cuda_once_connected(head_address, ray,
                                                                   monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append("init"))
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 8.0})
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))
    # cuda is not refused before connecting: a remote cluster's GPUs are not this machine's
    line = sweep_refused(capsys, "--backend", "ray", "--address", head_address,
                         "--device", "cuda")
    assert "device 'cuda' is not available: the Ray cluster has no GPU" in line
    assert calls == ["init", "shutdown"]


@pytest.mark.slow
@pytest.mark.parametrize("address", ["localhost", "ray://127.0.0.1:{port}"])
def test_bad_ray_addresses_from_a_real_process(address, free_port, cache):
    proc = subprocess.run([sys.executable, "-m", "aecore", "sweep", "--backend", "ray",
                           "--address", address.format(port=free_port), "--latent-dims", "2"],
                          capture_output=True, text=True, timeout=60)  # a bound on a hang
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and proc.stdout == "" and len(lines) == 1, proc.stderr
    assert lines[0].startswith("aecore: error:")
