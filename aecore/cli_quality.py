"""`aecore suspects`, `aecore clusters` and `aecore odd`: what may be wrong with the data, as a
run's codes read it (aecore.runs.dataquality)."""

from __future__ import annotations

import argparse
import json
import math


def _emit(args, result: dict, text: str) -> None:
    print(json.dumps(result) if args.json else text)


def _top(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 100_000:
        raise argparse.ArgumentTypeError(f"--top takes a whole number from 1 to 100000, not "
                                         f"{text[:20]!r}")
    return n


def cmd_suspects(args) -> int:
    from aecore.data import datasets
    from aecore.runs import dataquality, pipeline

    run = pipeline.load_run(args.run_id)
    found = dataquality.suspects(run, args.split)
    names = datasets.load(run.config.dataset).label_names
    rows = found.rows(args.top)
    lines = [f"{'index':>6}  {'label':<12} {'suggested':<12} score"] + [
        f"{r['index']:>6}  {names[r['label']][:12]:<12} {names[r['suggested']][:12]:<12} "
        f"{r['score']:.4f}" for r in rows]
    _emit(args, {"run_id": run.run_id, "split": args.split, "method": found.method,
                 "suspects": rows},
          "\n".join(lines) + f"\n{len(rows)} of {len(found.order):,} {args.split} images, "
                             f"worst first (cleanlab {found.method} on the head's and the "
                             "nearest codes' out-of-sample probabilities)")
    return 0


def cmd_clusters(args) -> int:
    from aecore.runs import dataquality, pipeline

    run = pipeline.load_run(args.run_id)
    summary = dataquality.clusters(run).clusters.summary()

    def text(key: str) -> str:
        v = summary[key]
        return "not measured (no labels)" if v is None or math.isnan(v) else f"{v:.4f}"
    _emit(args, {"run_id": run.run_id, **summary},
          f"{summary['n_clusters']} clusters (HDBSCAN on the test map), "
          f"{summary['noise_share']:.1%} of the images left as noise\n"
          f"ARI {text('ari')} · AMI {text('ami')} (on the clustered images) · clustering "
          f"accuracy {text('clustering_accuracy')} (each cluster read as its majority label, "
          "noise counted wrong)")
    return 0


def cmd_odd(args) -> int:
    from aecore.runs import dataquality, pipeline

    run = pipeline.load_run(args.run_id)
    found = dataquality.odd(run, args.split, args.top)
    odd = [{"index": int(i), "distance": round(float(d), 6)}
           for i, d in zip(found.odd, found.odd_distance, strict=True)]
    pairs = [{"indices": [int(a), int(b)], "code_distance": round(float(c), 6),
              "pixel_distance": round(float(p), 6)}
             for (a, b), c, p in zip(found.pairs, found.pair_code_distance,
                                     found.pair_pixel_distance, strict=True)]
    lines = [f"the {len(odd)} oddest {args.split} images (distance to the 5th nearest code):",
             "  " + ", ".join(f"{o['index']} ({o['distance']:.3f})" for o in odd[:20]),
             f"the {len(pairs)} closest pairs of codes (code distance, pixel RMS distance: 0 is "
             "the same image twice):"] + [
        f"  {p['indices'][0]:>6} {p['indices'][1]:>6}  {p['code_distance']:.4f}  "
        f"{p['pixel_distance']:.4f}" for p in pairs[:20]]
    _emit(args, {"run_id": run.run_id, "split": args.split, "odd": odd, "pairs": pairs},
          "\n".join(lines))
    return 0


def add_parsers(sub, run: argparse.ArgumentParser) -> None:
    """The three commands, each taking a run id (the parent parser `run`) and --json."""
    p = sub.add_parser("suspects", parents=[run],
                       help="the images whose labels the codes doubt, worst first")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="the test images (scored by the run's head) or the training images "
                        "(by heads cross-validated over 5 folds)")
    p.add_argument("--top", type=_top, default=100, help="how many to list (default 100)")
    p.set_defaults(func=cmd_suspects)
    p = sub.add_parser("clusters", parents=[run],
                       help="HDBSCAN's clusters of the test map against the labels")
    p.set_defaults(func=cmd_clusters)
    p = sub.add_parser("odd", parents=[run],
                       help="the images least like any other, and near-duplicate pairs")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="the test or the training images")
    p.add_argument("--top", type=_top, default=50, help="how many of each (default 50)")
    p.set_defaults(func=cmd_odd)
