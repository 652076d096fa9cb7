"""Whose turn it is at a worker that serves one request at a time.

The map worker is asked for maps ahead of need (when a training ends) and for what a person
is waiting on (the Draw page's head, the active run's map). A plain lock lets a queue of the
former hold up the latter for minutes; here a waiting request marked urgent, or hurried once
a page asks for it, goes before every ordinary one. Urgent requests go in the order they
became urgent, ordinary ones in the order they came. A running request is never interrupted.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator

MAX_HURRIED_AHEAD = 64


class Turns:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._serving = ""
        self._waiting: list[list] = []  # [not urgent, arrival, name]: the least goes next
        self._arrivals = itertools.count()
        # Hurried before they came (their thread is on its way): urgent on arrival. The last
        # few only, since a name hurried just as its request ended never comes.
        self._hurried: dict[str, None] = {}

    @contextlib.contextmanager
    def turn(self, name: str = "", urgent: bool = True) -> Iterator[None]:
        """Wait for this request's turn, hold it for the block, then pass it on."""
        with self._cond:
            entry = [not (urgent or name in self._hurried), next(self._arrivals), name]
            self._hurried.pop(name, None)
            self._waiting.append(entry)
            try:
                self._cond.wait_for(lambda: not self._busy and min(self._waiting) is entry)
            finally:
                self._waiting.remove(entry)
                self._cond.notify_all()  # if this waiter leaves on an error, the next goes
            self._busy, self._serving = True, name
        try:
            yield
        finally:
            with self._cond:
                self._busy, self._serving = False, ""
                self._cond.notify_all()

    def hurry(self, name: str) -> bool:
        """Make the waiting requests of that name urgent, behind those urgent already; one
        that has not come yet (its thread is on its way) will be urgent when it comes. False
        if none of that name is waiting."""
        if not name:
            return False
        with self._cond:
            found = [e for e in self._waiting if e[2] == name and e[0]]
            for entry in found:
                entry[:2] = [False, next(self._arrivals)]
            if not found and name != self._serving and all(e[2] != name for e in self._waiting):
                self._hurried[name] = None
                if len(self._hurried) > MAX_HURRIED_AHEAD:
                    del self._hurried[next(iter(self._hurried))]
            self._cond.notify_all()
            return bool(found)

    def waiting(self) -> list[str]:
        """The names waiting, in the order they will go."""
        with self._cond:
            return [e[2] for e in sorted(self._waiting)]
