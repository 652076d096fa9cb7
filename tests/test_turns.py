"""Whose turn at a one-request-at-a-time worker: urgent requests first, then by arrival."""

import threading
import time

from aecore.services.turns import Turns


def until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.001)


class Line:
    """A holder keeps the turn while requests (name, urgent) line up behind it in order."""

    def __init__(self, turns: Turns, requests: list[tuple[str, bool]]) -> None:
        self.turns, self.served, self.release = turns, [], threading.Event()
        held = threading.Event()
        self.threads = [self._start(self._hold, held)]
        until(held.is_set)
        for name, urgent in requests:
            self.threads.append(self._start(self._ask, name, urgent))
            until(lambda name=name: name in turns.waiting())

    @staticmethod
    def _start(target, *args) -> threading.Thread:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        return t

    def _hold(self, held: threading.Event) -> None:
        with self.turns.turn("holder"):
            held.set()
            self.release.wait(10)

    def _ask(self, name: str, urgent: bool) -> None:
        with self.turns.turn(name, urgent):
            self.served.append(name)

    def finish(self) -> list[str]:
        self.release.set()
        for t in self.threads:
            t.join(10)
        assert not any(t.is_alive() for t in self.threads)
        return self.served


def test_an_urgent_request_goes_before_the_maps_asked_ahead():
    line = Line(Turns(), [("map-a", False), ("map-b", False), ("head", True), ("map-c", False)])
    assert line.turns.waiting() == ["head", "map-a", "map-b", "map-c"]
    assert line.finish() == ["head", "map-a", "map-b", "map-c"]


def test_a_hurried_request_goes_behind_the_urgent_ones_but_before_the_rest():
    line = Line(Turns(), [("first", True), ("map-a", False), ("map-b", False)])
    assert line.turns.hurry("map-b") and not line.turns.hurry("nothing-by-this-name")
    assert line.turns.waiting() == ["first", "map-b", "map-a"]
    assert line.finish() == ["first", "map-b", "map-a"]


def test_a_request_hurried_before_it_comes_is_urgent_when_it_comes():
    turns = Turns()
    line = Line(turns, [("map-a", False)])
    assert not turns.hurry("map-b")  # its thread is on its way
    line.threads.append(line._start(line._ask, "map-b", False))
    until(lambda: "map-b" in turns.waiting())
    assert line.finish() == ["map-b", "map-a"]
    assert turns.waiting() == [] and turns._hurried == {}  # served: nothing is remembered


def test_without_urgency_it_is_first_come_first_served():
    names = [(f"r{i}", False) for i in range(6)]
    line = Line(Turns(), names)
    assert line.finish() == [n for n, _ in names]


def test_a_request_that_fails_passes_the_turn_on():
    turns = Turns()
    try:
        with turns.turn("boom"):
            raise OSError("the disk is full")
    except OSError:
        pass
    line = Line(turns, [("next", True)])
    assert line.finish() == ["next"]
