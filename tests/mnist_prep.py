"""The real-MNIST session's shared work, computed in a process of its own while the unit tests
run: `python -m tests.mnist_prep CACHE RESULTS`.

The MNIST and browser tests all start from the same two runs (the classic recipe and Draw's
recommended model) with their heads, drawing heads and map. Computed by these same `aecore`
commands one after the other, they held both cores for about two minutes before the first MNIST
test could start, while the unit tests before them left one core mostly idle. Started at
collection (conftest), on one thread so the unit tests keep a core, they are usually done when
the first MNIST test asks; that test's own `aecore` call then reads them from the cache (and
waits on the cache's lock for a step still running).

Each step's JSON is written to RESULTS/<name>.json when it ends, or RESULTS/<name>.error with
its stderr. Once a test waits (RESULTS/hurry exists), the next steps use both cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import threading
from pathlib import Path

import torch

# name, then the command; {default} and {recommended} are the run ids of the first two steps
STEPS = [
    ("default_run", ["train", "--epochs", "10"]),
    ("recommended_run", ["train", "--model", "conv", "--epochs", "10"]),
    ("default_mlp", ["classify", "{default}", "--head", "mlp"]),  # with the baselines
    ("default_drawing", ["classify", "{default}", "--head", "mlp", "--jitter"]),
    ("recommended_drawing", ["classify", "{recommended}", "--head", "mlp", "--jitter"]),
    ("default_map", ["embed", "{default}", "--method", "umap"]),
    # for the browser tests: the linear head's baselines (their first linear head), and the
    # map of all 70,000 digits that Explore shows
    ("default_linear", ["classify", "{default}", "--head", "linear"]),
    ("default_all_digits", ["embed", "{default}", "--all-digits"]),
]
HURRY = "hurry"


def write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)  # a reader never sees half a file


def end_with_parent() -> None:
    """The test session holds this process's stdin: when it ends, killed or not, so does this."""
    def watch() -> None:
        sys.stdin.read()
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main(results: Path) -> int:
    from aecore import cli

    end_with_parent()
    ids: dict[str, str] = {}
    for name, args in STEPS:
        torch.set_num_threads(2 if (results / HURRY).exists() else 1)
        logging.root.handlers.clear()  # each step's log goes to that step's own stderr
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([a.format(**ids) for a in args] + ["--json"])
        if code != 0:
            write(results / f"{name}.error", err.getvalue() or f"exit status {code}")
            return code
        result = json.loads(out.getvalue())
        if name.endswith("_run"):
            ids[name.removesuffix("_run")] = result["run_id"]
        write(results / f"{name}.json", json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ["AECORE_CACHE_DIR"] = sys.argv[1]
    sys.exit(main(Path(sys.argv[2])))
