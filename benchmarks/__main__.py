"""`aecore-bench` (or `python -m benchmarks`): the fast paths measured on this machine, each
against a baseline measured in the same run; one JSON object with --json."""

from __future__ import annotations

import argparse
import sys

from aecore.core.errors import AecoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aecore-bench",
                                     description=" ".join(__doc__.split("\n\n")[0].split()))
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true",
                       help="fewer epochs and seeds, no 70k map and no sweep of 20 trainings: "
                            "about 6 minutes on a 2-core CPU (6 min 3 s on 2026-12-03), where "
                            "the full bench took 17 min 37 s")
    speed.add_argument("--smoke", action="store_true",
                       help="synthetic data, 1 epoch, no server: checks the report's shape in "
                            "about half a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.suite import main as bench

    try:
        return bench(args)
    except AecoreError as exc:
        print(f"aecore-bench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
