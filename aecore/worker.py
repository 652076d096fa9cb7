"""Heavy work in child processes, so it never shares the GIL with the web server.

In one process, every torch op releases the GIL and must win it back; while the server's
threads run Python (a page rerun building a figure), each reacquire waits up to the switch
interval, and an epoch measured 9 s in the app against 0.45 s alone. The app keeps two
workers: one trains autoencoders, the other fits maps and classifier heads (it warms numba's
compile as soon as it starts, so the first map after a training is quick). The proxies here
turn the children's messages into events and results.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

from aecore import lab, projection
from aecore.config import HeadConfig, ProjectionConfig, TrainConfig
from aecore.errors import AecoreError
from aecore.train import BatchEvent, EpochEvent

FLUSH_SECONDS = 0.1  # batch events are sent in bundles, ~10 a second


class WorkerDied(AecoreError):
    """The training process ended without finishing (killed, or out of memory)."""


def serve(conn: Connection, stop: threading.Event, warm: bool = False) -> None:
    """The child's loop: one request at a time; training events are sent back in bundles."""
    if warm:
        projection.warm_up()
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        stop.clear()
        try:
            if request[0] == "train":
                cfg, device, force = TrainConfig.from_dict(request[1]), request[2], request[3]
                _train(conn, stop, cfg, device, force)
            elif request[0] == "embed":  # ("embed", run_id, projection config)
                lab.embed(lab.load_run(request[1]), ProjectionConfig.from_dict(request[2]))
                conn.send(("end",))
            else:  # ("classify", run_id, head config)
                lab.classify(lab.load_run(request[1]), HeadConfig.from_dict(request[2]))
                conn.send(("end",))
        except AecoreError as exc:
            conn.send(("error", str(exc)))
        except Exception as exc:  # reported to the page as one line; the worker lives on
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _train(conn: Connection, stop, cfg: TrainConfig, device: str, force: bool) -> None:
    pending, last = [], time.perf_counter()
    for event in lab.train(cfg, stop=stop, device=device, force=force):
        if isinstance(event, BatchEvent):
            pending.append((event.step, event.epoch, event.loss))
            if time.perf_counter() - last < FLUSH_SECONDS:
                continue
        if pending:
            conn.send(("batches", pending))
            pending, last = [], time.perf_counter()
        if isinstance(event, EpochEvent):
            conn.send(("epoch", vars(event)))
        elif isinstance(event, lab.RunReady):
            conn.send(("ready", event.run.run_id, event.cached))
    if pending:
        conn.send(("batches", pending))
    conn.send(("end",))


class Worker:
    """One long-lived child process (started on first use, restarted if it dies).

    A plain `python -m aecore.worker` with two pipes, not multiprocessing's spawn: spawn
    re-runs the parent's __main__, which under `streamlit run` is the app script. A stop is
    SIGUSR1, so the child's loop sees it between two batches.
    """

    def __init__(self, warm: bool = False, command: list[str] | None = None) -> None:
        self._warm = warm
        self._command = command or [sys.executable, "-m", "aecore.worker"]
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        args = [*self._command, str(to_child_r), str(from_child_w)] + (["--warm"] * self._warm)
        self._proc = subprocess.Popen(args, pass_fds=(to_child_r, from_child_w),
                                      stdin=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._conn = _Duplex(Connection(from_child_r, writable=False),
                             Connection(to_child_w, readable=False))

    def start(self) -> Worker:
        with self._lock:
            self._ensure()
        return self

    def _request(self, request: tuple, stop: threading.Event | None = None) -> Iterator[tuple]:
        """Send one request, yield the child's messages until its end; errors are raised."""
        with self._lock:  # one request at a time per worker
            self._ensure()
            self._conn.send(request)
            stopping = False
            while True:
                if stop is not None and stop.is_set() and not stopping:
                    stopping = True
                    self._proc.send_signal(signal.SIGUSR1)
                if not self._conn.poll(0.05):
                    if self._proc.poll() is not None:
                        raise self._died()
                    continue
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):  # the child closed its end: it is gone
                    raise self._died() from None
                if message[0] == "error":
                    raise AecoreError(message[1])
                if message[0] == "end":
                    return
                yield message

    def _died(self) -> WorkerDied:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = "unknown"
        return WorkerDied(f"the worker process ended (exit code {code}): out of memory or "
                          "killed; nothing of this request was saved")

    def train(self, cfg: TrainConfig, stop: threading.Event | None = None,
              device: str = "auto", force: bool = False) -> Iterator:
        """lab.train's events, computed in the child: BatchEvent, EpochEvent, RunReady."""
        for message in self._request(("train", cfg.to_dict(), device, force), stop):
            if message[0] == "batches":
                for step, epoch, loss in message[1]:
                    yield BatchEvent(step, epoch, loss)
            elif message[0] == "epoch":
                yield EpochEvent(**message[1])
            elif message[0] == "ready":
                yield lab.RunReady(lab.load_run(message[1]), message[2])

    def embed(self, run: lab.Run, cfg: ProjectionConfig) -> lab.MapResult:
        """The map fitted and stored by the child, then read from the cache here."""
        for _ in self._request(("embed", run.run_id, cfg.to_dict())):
            pass
        return lab.embed(run, cfg)

    def classify(self, run: lab.Run, cfg: HeadConfig) -> lab.HeadResult:
        """The head (and its baselines) trained and stored by the child, then read here."""
        for _ in self._request(("classify", run.run_id, cfg.to_dict())):
            pass
        return lab.classify(run, cfg)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()


class _Duplex:
    """Two one-way pipes as one connection."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self.reader, self.writer = reader, writer

    def send(self, obj) -> None:
        self.writer.send(obj)

    def recv(self):
        return self.reader.recv()

    def poll(self, timeout: float) -> bool:
        return self.reader.poll(timeout)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    conn = _Duplex(Connection(int(args[0]), writable=False),
                   Connection(int(args[1]), readable=False))
    serve(conn, stop, warm="--warm" in args)


if __name__ == "__main__":
    main()
