"""Heavy work in child processes, so it never shares the GIL with the web server.

In one process, every torch op releases the GIL and must win it back; while the server's
threads run Python (a page rerun building a figure), each reacquire waits up to the switch
interval, and an epoch measured 9 s in the app against 0.45 s alone. The app keeps two
workers: one trains autoencoders, the other fits maps and classifier heads at a lower CPU
priority (it warms numba's compile when it starts; a training must not wait for that).

The protocol: every request carries an id, every reply names it, and a reply for another id
is never taken for yours. A request is read to its end even when its consumer leaves early
(closing the generator stops and drains it). Stops travel on the same pipe as requests, read
by a thread of the child, so a stop that arrives before its request starts is kept, and no
signal can reach the child before it can handle it. When the parent goes away (the server
stopped, or was killed), the child sees its pipe close and exits at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

from aecore.core import errors
from aecore.core.config import HeadConfig, ProjectionConfig, TrainConfig
from aecore.core.errors import AecoreError, WorkerDied
from aecore.runs import pipeline
from aecore.services.turns import Turns
from aecore.training.loop import BatchEvent, EpochEvent

FLUSH_SECONDS = 0.1  # batch events are sent in bundles, ~10 a second
log = logging.getLogger(__name__)
# A map or a head that has not finished in this time is taken for a hang: its process is
# ended and the page offers Retry (a map of 10,000 codes takes 2 to 30 s here).
BACKGROUND_LIMIT_SECONDS = 600.0


# --- the child ----------------------------------------------------------------------------------

class _Inbox:
    """The child's reader thread: requests queue up in order; stops are kept by request id."""

    def __init__(self, conn: Connection) -> None:
        self.requests: queue.Queue = queue.Queue()
        self._stops: dict[int, threading.Event] = {}
        self._finished_upto = 0  # requests run in order: every id up to this one has ended
        self._lock = threading.Lock()
        self._conn = conn
        threading.Thread(target=self._read, name="aecore-inbox", daemon=True).start()

    def stop_event(self, request_id: int) -> threading.Event:
        with self._lock:
            if request_id <= self._finished_upto:  # a late stop for an ended request
                return threading.Event()
            return self._stops.setdefault(request_id, threading.Event())

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._stops.pop(request_id, None)
            self._finished_upto = max(self._finished_upto, request_id)

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone: nobody will read our results
            if message is None:  # a polite close: stop what runs, then leave
                with self._lock:
                    for event in self._stops.values():
                        event.set()
                self.requests.put(None)
                return
            if message[0] == "stop":
                self.stop_event(message[1]).set()
            else:
                self.requests.put(message)


def _derived_kinds() -> dict:
    """What the map worker computes from a run (imported when asked: the maps' modules are
    not needed to train)."""
    from aecore.runs import derived

    return derived.KINDS


def serve(conn: Connection, warm: bool = False) -> None:
    """The child's loop: one request at a time, every reply tagged with its request id."""
    inbox = _Inbox(conn)
    if warm:
        from aecore.analysis import projection

        projection.warm_up()
    while (request := inbox.requests.get()) is not None:
        kind, request_id, *args = request
        stop = inbox.stop_event(request_id)

        def send(*message, request_id=request_id) -> None:
            conn.send((request_id, *message))

        try:
            if kind == "train":
                _train(send, stop, TrainConfig.from_dict(args[0]), args[1], args[2])
            elif kind in (kinds := _derived_kinds()):
                _, compute, config, _ = kinds[kind]
                compute(pipeline.load_run(args[0]), config.from_dict(args[1]))
            else:
                raise AecoreError(f"the worker does not know the request {kind!r}")
            send("end")
        except AecoreError as exc:
            send("error", type(exc).__name__, str(exc))
        except Exception as exc:  # one line for the page, the traceback in the server's log
            log.exception("the worker's %s request failed", kind)
            send("error", "AecoreError", f"{type(exc).__name__}: {exc}")
        finally:
            inbox.forget(request_id)


def _train(send, stop: threading.Event, cfg: TrainConfig, device: str, force: bool) -> None:
    pending, last = [], time.perf_counter()
    for event in pipeline.train(cfg, stop=stop, device=device, force=force):
        if isinstance(event, BatchEvent):
            pending.append((event.step, event.epoch, event.loss, event.kl))
            if time.perf_counter() - last < FLUSH_SECONDS:
                continue
        if pending:
            send("batches", pending)
            pending, last = [], time.perf_counter()
        if isinstance(event, EpochEvent):
            send("epoch", vars(event))
        elif isinstance(event, pipeline.RunReady):
            send("ready", event.run.run_id, event.cached)
    if pending:
        send("batches", pending)


# --- the parent's proxy -------------------------------------------------------------------------

class Worker:
    """One long-lived child process (started on first use, restarted if it dies).

    A plain `python -m aecore.services.worker` with two pipes, not multiprocessing's spawn: spawn
    re-runs the parent's __main__, which under `streamlit run` is the app script.
    """

    def __init__(self, warm: bool = False, command: list[str] | None = None,
                 background: bool = False) -> None:
        self._warm, self._background = warm, background
        self._command = command or [sys.executable, "-m", "aecore.services.worker"]
        self._proc: subprocess.Popen | None = None
        self._conn: _Duplex | None = None
        self._turns = Turns()  # one request at a time, urgent ones first
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        flags = ["--warm"] * self._warm + ["--background"] * self._background
        self._proc = subprocess.Popen([*self._command, str(to_child_r), str(from_child_w),
                                       *flags], pass_fds=(to_child_r, from_child_w),
                                      stdin=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._conn = _Duplex(Connection(from_child_r, writable=False),
                             Connection(to_child_w, readable=False))

    def start(self) -> Worker:
        with self._turns.turn():
            self._ensure()
        return self

    def hurry(self, name: str) -> bool:
        """Move the waiting request of that name ahead of the ordinary ones."""
        return self._turns.hurry(name)

    def _request(self, kind: str, *args, stop: threading.Event | None = None,
                 limit: float | None = None, name: str = "", urgent: bool = True
                 ) -> Iterator[tuple]:
        """Send one request, when its turn comes (see Turns: `name` is what `hurry` knows it
        by), and yield its replies up to its end; a typed error is raised as its own class.
        Leaving early stops the request and reads it to its end. A request still running
        after `limit` seconds ends its process (WorkerDied)."""
        with self._turns.turn(name, urgent):
            self._ensure()
            request_id = next(self._ids)
            self._send((kind, request_id, *args))
            finished = stopping = False
            deadline = time.monotonic() + limit if limit else None
            try:
                while True:
                    if deadline is not None and time.monotonic() > deadline:
                        self._proc.kill()
                        self._proc.wait()
                        finished = True
                        raise WorkerDied(f"the {kind} request ran for over {limit:.0f} s and "
                                         "was ended (its process is restarted): try again")
                    if stop is not None and stop.is_set() and not stopping:
                        stopping = True
                        self._send(("stop", request_id))
                    message = self._receive(request_id)
                    if message is None:
                        continue
                    if message[0] == "end":
                        finished = True
                        return
                    if message[0] == "error":
                        finished = True
                        raise errors.by_name(message[1])(message[2])
                    yield message
            finally:
                if not finished:
                    self._drain(request_id)

    def _receive(self, request_id: int) -> tuple | None:
        """The next reply to request_id, or None after a short wait or a stale reply."""
        if not self._conn.poll(0.05):
            if self._proc.poll() is not None:
                raise self._died()
            return None
        try:
            message = self._conn.recv()
        except (EOFError, OSError):  # the child closed its end: it is gone
            raise self._died() from None
        return message[1:] if message[0] == request_id else None

    def _drain(self, request_id: int) -> None:
        """Stop an abandoned request and read its replies to the end, so none is left over."""
        with contextlib.suppress(AecoreError, OSError):
            self._send(("stop", request_id))
            while (message := self._receive(request_id)) is None or \
                    message[0] not in ("end", "error"):
                pass

    def _send(self, message) -> None:
        try:
            self._conn.send(message)
        except OSError:  # a broken pipe: the child died
            raise self._died() from None

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
        """pipeline.train's events, computed in the child: BatchEvent, EpochEvent, RunReady."""
        for message in self._request("train", cfg.to_dict(), device, force, stop=stop):
            if message[0] == "batches":
                for step, epoch, loss, kl in message[1]:
                    yield BatchEvent(step, epoch, loss, kl)
            elif message[0] == "epoch":
                yield EpochEvent(**message[1])
            elif message[0] == "ready":
                yield pipeline.RunReady(pipeline.load_run(message[1]), message[2])

    def derive(self, kind: str, run: pipeline.Run, cfg: ProjectionConfig | HeadConfig,
               name: str = "", urgent: bool = True):
        """A result of the run (see runs/derived.py) computed and stored by the child, then read
        from the cache here. Not urgent: asked ahead of need, it waits for the urgent ones."""
        for _ in self._request(kind, run.run_id, cfg.to_dict(), limit=BACKGROUND_LIMIT_SECONDS,
                               name=name, urgent=urgent):
            pass
        return _derived_kinds()[kind].compute(run, cfg)

    def embed(self, run: pipeline.Run, cfg: ProjectionConfig) -> pipeline.MapResult:
        return self.derive("embed", run, cfg)

    def classify(self, run: pipeline.Run, cfg: HeadConfig) -> pipeline.HeadResult:
        """The head (and its baselines) trained and stored by the child, then read here."""
        return self.derive("classify", run, cfg)

    def close(self) -> None:
        """Ask the child to leave (it stops its request), then make sure it has."""
        if self._proc is None or self._proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            self._conn.send(None)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


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


def _yield_cpu() -> None:
    """Run only when the CPU is otherwise idle (Linux SCHED_IDLE; else the lowest nice). With
    nice 15 a numba compile beside a training still slowed its epochs by half: torch's two
    threads wait for each other, so any slice taken from one stalls both."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.nice(19)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if "--background" in args:
        _yield_cpu()
    # numba's OpenMP layer beside torch's OpenMP runtime in one process is known to hang now
    # and then (umap-learn and pytorch issues); the workqueue layer fits as fast here (2.6 s
    # for 10,000 codes either way) and the worker calls numba from one thread only.
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    conn = _Duplex(Connection(int(args[0]), writable=False),
                   Connection(int(args[1]), readable=False))
    serve(conn, warm="--warm" in args)


if __name__ == "__main__":
    main()
