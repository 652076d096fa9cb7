"""A child Python with a memory cap and a timeout, for inputs that would hang the test run or
exhaust the machine's memory (a FIFO, /dev/zero) if the code under test mishandled them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADROOM = 512 * 1024 * 1024

# Capped after the imports (torch alone maps gigabytes of address space): an endless read
# then fails at once with MemoryError instead of growing until the OOM killer acts.
_CAP = f"""
import resource
with open("/proc/self/statm") as fh:
    used = int(fh.read().split()[0]) * resource.getpagesize()
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
soft = used + {HEADROOM}
resource.setrlimit(resource.RLIMIT_AS,
                   (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
"""


def run_capped(setup: str, code: str, *args: str,
               timeout: float = 30) -> subprocess.CompletedProcess:
    """Run `setup`, cap memory, run `code` (sys.argv[1:] is `args`); TimeoutExpired on a hang.
    The child runs from this checkout, so it imports this checkout's aecore."""
    return subprocess.run([sys.executable, "-c", f"{setup}\n{_CAP}\n{code}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
