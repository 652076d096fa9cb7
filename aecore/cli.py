"""`aecore ...`: everything the dashboard does, without a browser.

stdout carries the result (one JSON object with --json); progress and messages go to stderr.
An error is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from aecore import cli_quality
from aecore.core import metrics
from aecore.core.config import (
    DATASETS,
    HEADS,
    METHODS,
    MODELS,
    HeadConfig,
    ProjectionConfig,
    TrainConfig,
    model_label,
)
from aecore.core.errors import AecoreError, InvalidConfig


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except the non-answers (a flag's False, an option's None)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or not action.help:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Every option's help ends with its default; an error is one line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(2, f"aecore: error: {message} (see `{self.prog} --help`)\n")


DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"


def _emit(args, result: dict, text: str) -> None:
    print(json.dumps(result) if args.json else text)


def cmd_train(args) -> int:
    from tqdm import tqdm

    from aecore.runs import pipeline
    from aecore.training.loop import BatchEvent, EpochEvent

    cfg = TrainConfig(dataset=args.dataset, model=args.model, latent_dim=args.latent_dim,
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      beta=args.beta, noise=args.noise, l1=args.l1)
    bar = None
    ready = None
    start = time.perf_counter()
    for event in pipeline.train(cfg, device=args.device, force=args.force):
        if isinstance(event, BatchEvent):
            if bar is None:
                bar = tqdm(total=cfg.epochs, desc="epochs", file=sys.stderr, leave=False,
                           disable=None)
            if event.step % 50 == 0:
                bar.set_postfix(loss=f"{event.loss:.4f}", refresh=False)
        elif isinstance(event, EpochEvent):
            bar.update(1)
            bar.write(f"epoch {event.epoch}: train {event.train_loss:.4f}  "
                      f"test {event.test_loss:.4f}  ({event.seconds:.2f} s)", file=sys.stderr)
        else:
            ready = event
    if bar is not None:
        bar.close()
    run, m = ready.run, ready.run.metrics
    result = {
        "run_id": run.run_id, "dataset": cfg.dataset, "model": cfg.model,
        "latent_dim": cfg.latent_dim, "epochs": m["epochs_done"], "train_loss": m["train_loss"],
        "test_loss": m["test_loss"],
        "seconds": m["seconds"] if not ready.cached else time.perf_counter() - start,
        "seconds_per_epoch": m["seconds_per_epoch"], "cached": ready.cached,
    }
    stats = pipeline.variational_stats(run)
    if stats is not None:  # from the metrics, or computed again where they are missing
        result.update({k: getattr(stats, k) for k in
                       ("kl", "reconstruction", "active_units", "negative_elbo")})
    vae = (f"; KL {stats.kl:.1f} nats, {stats.active_units} of {cfg.latent_dim} units "
           f"active, -ELBO {stats.negative_elbo:.1f} nats per image" if stats else "")
    n = m["epochs_done"]
    _emit(args, result, f"run {run.run_id}: test BCE {metrics.text(m['test_loss'], '.4f')} after "
          f"{metrics.text(n)} epoch{'s' * (n != 1)}, "
          f"{metrics.text(m['seconds_per_epoch'], '.2f')} s/epoch{vae}"
          + (" (cached)" if ready.cached else ""))
    return 0


def cmd_embed(args) -> int:
    from aecore.runs import mapping, pipeline

    start = time.perf_counter()
    run, cfg = pipeline.load_run(args.run_id), ProjectionConfig(method=args.method)
    if args.over_training:
        return _embed_over_training(args, run, cfg, start)
    res = (mapping.embed_all if args.all_digits else pipeline.embed)(run, cfg)
    what = "digits" if args.all_digits else "test codes"
    result = {"run_id": args.run_id, "method": args.method,
              "n_points": len(res.map.embedding),
              "seconds": time.perf_counter() - start if res.cached else res.map.seconds,
              "knn_accuracy_2d": res.knn_accuracy_2d, "cached": res.cached}
    text = (f"{args.method} map of {result['n_points']} {what}: 2-D 5-NN accuracy "
            f"{metrics.text(res.knn_accuracy_2d, '.3f', 'n/a (no labels)')}, "
            f"{result['seconds']:.1f} s"
            + (" (cached)" if res.cached else ""))
    if not args.all_digits:
        summary = mapping.map_trust(run, cfg).summary
        result["trust"] = summary.to_dict()
        if summary.collapsed:
            text += (f"\nwarning: only {summary.distinct_codes:.0%} of the codes are distinct: "
                     "the trust figures below are ties, not a measure")
        text += (f"\ntrust: {summary.neighbours_kept_15:.1%} of 15 code neighbours kept, "
                 f"trustworthiness {summary.trustworthiness:.3f}, continuity "
                 f"{summary.continuity:.3f}")
    _emit(args, result, text)
    return 0


def _embed_over_training(args, run, cfg: ProjectionConfig, start: float) -> int:
    from aecore.runs import mapping

    maps = mapping.embed_over_training(run, cfg)
    rows = [{"epoch": e, "knn_accuracy_2d": a, "neighbours_kept_15": float(k.mean())}
            for e, a, k in zip(maps.epochs, maps.knn_accuracy_2d, maps.kept, strict=True)]
    seconds = time.perf_counter() - start if maps.cached else maps.seconds
    result = {"run_id": args.run_id, "method": args.method, "snapshots": rows,
              "seconds": seconds, "cached": maps.cached}
    lines = [f"epoch {r['epoch']:>7g}: 2-D 5-NN accuracy "
             f"{metrics.text(r['knn_accuracy_2d'], '.3f')}, "
             f"{r['neighbours_kept_15']:.1%} of 15 code neighbours kept" for r in rows]
    _emit(args, result, "\n".join([*lines, f"{len(rows)} {args.method} maps, {seconds:.1f} s"
                                    + (" (cached)" if maps.cached else "")]))
    return 0


def cmd_classify(args) -> int:
    from aecore.runs import pipeline

    start = time.perf_counter()
    run, cfg = pipeline.load_run(args.run_id), HeadConfig(head=args.head, jitter=args.jitter)
    res = pipeline.classify(run, cfg)
    r = pipeline.with_baselines(run, cfg, res.report)
    result = {"run_id": args.run_id, "head": args.head, "jitter": args.jitter,
              "test_accuracy": r["test_accuracy"], "canvas_accuracy": r.get("canvas_accuracy"),
              "train_accuracy": r["train_accuracy"], "per_class": r["per_class"],
              "confusion": r["confusion"], "baselines": r["baselines"],
              "seconds": time.perf_counter() - start if res.cached else r["seconds"],
              "cached": res.cached}
    b = r["baselines"]
    _emit(args, result, f"{args.head} head: test accuracy {r['test_accuracy']:.4f} (train "
          f"{r['train_accuracy']:.4f}); same head on pixels {b['pixels']:.4f}, "
          f"on PCA {b['pca']:.4f}"
          + (f"; canvas-style digits {r['canvas_accuracy']:.4f}" if "canvas_accuracy" in r
             else ""))
    return 0


def cmd_predict(args) -> int:
    from aecore.data.preprocess import load_image
    from aecore.runs import drawing, pipeline

    run = pipeline.load_run(args.run_id)
    head = pipeline.classify(run, HeadConfig(head=args.head, jitter=args.jitter)).head
    predictions, failed = [], False
    for file in args.images:
        try:
            p = drawing.predict(run, head, load_image(file))
            predictions.append({"file": file, "digit": p.digit, "probabilities": p.probabilities})
        except AecoreError as exc:
            failed = True
            predictions.append({"file": file, "error": str(exc)})
            print(f"aecore: {file}: {exc}", file=sys.stderr)
    lines = [f"{p['file']}: {p['digit']} ({max(p['probabilities']):.2f})"
             for p in predictions if "digit" in p]
    _emit(args, {"run_id": args.run_id, "head": args.head, "predictions": predictions},
          "\n".join(lines))
    return 1 if failed else 0


def cmd_export(args) -> int:
    from pathlib import Path

    from aecore.export import writers
    from aecore.runs import pipeline

    def step(what: str) -> None:
        print(f"aecore: {what} ...", file=sys.stderr, flush=True)

    given = {"--projector": args.projector, "--onnx": args.onnx, "--html": args.html}
    for flag, value in given.items():
        if value is not None and not value.strip():  # `--onnx ""` (an unset shell variable)
            raise InvalidConfig(f"{flag} was given an empty path: name a "
                                f"{'file' if flag == '--html' else 'folder'}")
    if not any(given.values()):
        raise InvalidConfig("say what to export: --projector DIR, --onnx DIR and/or --html FILE")
    run = pipeline.load_run(args.run_id)
    targets = [Path(p) if p else None for p in (args.projector, args.onnx, args.html)]
    writers.check_targets(*targets)  # every bad path is said before minutes of work
    if args.onnx:
        writers.require_onnx()  # and so is a missing extra
    files: list[Path] = []
    # Folders made and locked until the last file is written; an OS error is one line.
    with writers.writing(*targets):
        if args.onnx:  # first: a failing exporter is said before the rest
            step("exporting the encoder and decoder to ONNX")
            files += writers.onnx(run, Path(args.onnx))
        digits = None
        if args.projector or args.html:
            step("encoding the test digits and predicting them (trains the linear head if no "
                 "head was trained)")
            digits = writers.test_digits(run)
        if args.projector:
            step("writing the projector bundle")
            files += writers.projector(run, Path(args.projector), digits)
        if args.html:
            step("writing the HTML report (fits the UMAP map if it was not fitted)")
            files.append(writers.write_html(Path(args.html), writers.html(run, digits)))
    paths = [str(f.resolve()) for f in files]
    _emit(args, {"run_id": run.run_id, "files": paths}, "\n".join(paths))
    return 0


def cmd_runs(args) -> int:
    from aecore.runs import pipeline

    rows = pipeline.list_runs()
    lines = [f"{r['run_id']}  {r['config']['dataset']:<7} {r['config']['model']:<8} "
             f"k={r['config']['latent_dim']:<3} "
             f"epochs={metrics.text(r['metrics']['epochs_done']):<3} "
             f"test BCE {metrics.text(r['metrics']['test_loss'], '.4f')}"
             + (f"  {variant}" if (variant := TrainConfig.from_dict(r["config"]).variant) else "")
             + ("  (stopped)" if r["metrics"].get("stopped") else "") for r in rows]
    if args.size:
        return _runs_with_sizes(args, rows, lines)
    _emit(args, {"runs": rows}, "\n".join(lines) or "no runs yet: try `aecore train`")
    return 0


def _runs_with_sizes(args, rows: list[dict], lines: list[str]) -> int:
    from aecore.runs import store

    for row in rows:  # a run's folder: weights, snapshots, derived codes, maps and heads
        row["bytes"] = store.folder_bytes(store.run_dir(row["run_id"]))
    total = store.cache_bytes()
    text = [f"{store.size_text(r['bytes']):>9}  {line}"
            for r, line in zip(rows, lines, strict=True)]
    text = text or ["no runs yet: try `aecore train`"]
    text.append(f"{store.size_text(total):>9}  the whole cache, {store.cache_dir()}")
    _emit(args, {"runs": rows, "cache_bytes": total}, "\n".join(text))
    return 0


def cmd_rm(args) -> int:
    from aecore.core.errors import RunNotFound
    from aecore.runs import pipeline, store

    run_ids = list(dict.fromkeys(args.run_ids))  # `rm a a` removes a once
    for run_id in run_ids:  # every id is checked before anything is removed
        try:
            pipeline.removable(run_id)
        except AecoreError as exc:
            raise type(exc)(f"{exc}; nothing was removed") from exc
    removed, freed, lines = [], 0, []
    for run_id in run_ids:
        try:
            n = pipeline.remove_run(run_id)
        except RunNotFound:  # removed by another `aecore rm` meanwhile: gone, as asked
            continue
        removed.append(run_id)
        freed += n
        lines.append(f"removed {run_id} ({store.size_text(n)})")
    lines.append(f"{store.size_text(freed)} freed")
    _emit(args, {"removed": removed, "bytes_freed": freed}, "\n".join(lines))
    return 0


def cmd_data_add(args) -> int:
    from aecore.runs import imported

    m = imported.add(Path(args.source), args.name, size=args.size, colour=args.colour,
                     show_progress=not args.json)
    summary = m.summary()
    text = [f"added {m.name}: {m.images:,} images of {m.size}x{m.size} "
            f"{'colour' if m.channels == 3 else 'grey'} ({summary['train']:,} train, "
            f"{summary['test']:,} test) in {m.seconds:.1f} s",
            f"classes: {', '.join(m.classes)}" if m.classes else "unlabelled (no class folders)"]
    if m.skipped:
        text.append(f"skipped {m.skipped:,} files:")
        text += [f"  {path[:120]}: {why}" for path, why in m.skipped_files[:20]]
        if m.skipped > 20:
            text.append(f"  ... and {m.skipped - 20:,} more")
    _emit(args, summary, "\n".join(text))
    return 0


def cmd_data_list(args) -> int:
    from aecore.data import datasets
    from aecore.runs import imported

    known = datasets.known()
    found = imported.listing()
    lines = ["known by name (downloaded when first used):"]
    lines += [f"  {k.name:<18} {k.train + k.test:>8,} images  28x28 grey   {k.classes} classes  "
              f"{'here' if k.folder else 'not here'}" for k in known]
    lines.append("added:" if found else "added: none yet, try `aecore data add FOLDER --name NAME`")
    lines += [f"  {d.name:<18} {m.images:>8,} images  {m.size}x{m.size} "
              f"{'colour' if m.channels == 3 else 'grey':<6} {len(m.classes) or 'no'} classes"
              if (m := d.manifest) else f"  {d.name:<18} damaged: {d.problem}" for d in found]
    rows = [d.manifest.summary() if d.manifest else {"name": d.name, "problem": d.problem}
            for d in found]
    here = [{"name": k.name, "classes": k.classes, "train": k.train, "test": k.test,
             "here": k.folder is not None} for k in known]
    _emit(args, {"datasets": rows, "known": here}, "\n".join(lines))
    return 0


def cmd_data_remove(args) -> int:
    from aecore.runs import imported

    removed = imported.remove(args.name)
    _emit(args, removed._asdict(), f"removed {removed.name} and its {len(removed.runs)} runs")
    return 0


def cmd_sweep(args) -> int:
    from tqdm import tqdm

    from aecore.runs import compare
    from aecore.services import sweep

    spec = sweep.SweepSpec(dataset=args.dataset, models=sweep.parse_list(args.models),
                           latent_dims=sweep.parse_list(args.latent_dims, int),
                           epochs=args.epochs, seeds=sweep.parse_list(args.seeds, int))
    configs = spec.configs()
    # A device or a Ray address that cannot work is one line before any work, as in `aecore
    # train` (it was a failure per config, or a Ray traceback or a hang, seconds to minutes on)
    if args.backend == "ray":
        from aecore.services.ray_backend import check, run_ray

        check(args.address, args.device)
    else:
        from aecore.training.loop import pick_device

        pick_device(args.device)
    from aecore.data import datasets

    # the heads and maps are derived here on every backend: data that cannot be read or
    # fetched is one line, exit 2, before anything trains
    datasets.load(spec.dataset)
    start = time.perf_counter()
    bar = tqdm(total=len(configs) * (1 + len(sweep.DERIVED)), desc="sweep", file=sys.stderr,
               disable=None)

    done_steps = []

    def step(what: str) -> None:
        done_steps.append(what)
        bar.set_postfix_str(what, refresh=False)
        bar.update(1)
        if bar.disable:  # not a terminal: one line per step, for logs
            print(f"aecore: sweep [{len(done_steps)}/{bar.total}] {what}", file=sys.stderr)

    if args.backend == "ray":
        outcomes = list(run_ray(configs, args.address, args.device, args.cpus_per_task, step))
    else:
        outcomes = list(sweep.run_local(configs, args.device, step))
    bar.close()
    done = {o.run_id for o in outcomes if o.run_id}
    rows = [r for r in compare.report(spec.dataset).rows if r.run_id in done]
    order = {cfg.key(): i for i, cfg in enumerate(configs)}
    rows.sort(key=lambda r: order.get(r.run_id, len(order)))
    failed = [o.failure() for o in outcomes if not o.run_id]
    for f in failed:
        print(f"aecore: {f['model']} k={f['latent_dim']} seed {f['seed']} failed: {f['error']}",
              file=sys.stderr)
    result = {"rows": [r.to_dict() for r in rows], "failed": failed,
              "seconds": time.perf_counter() - start}
    _emit(args, result, (_table(rows) if rows else "no run finished") +
          f"\n{len(rows)} of {len(configs)} runs in {result['seconds']:.0f} s")
    return 1 if failed else 0


def _dataset(text: str) -> str:
    from aecore.core.config import check_dataset_name

    try:
        check_dataset_name(text)
    except InvalidConfig as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value


_positive.__name__ = "number above 0"  # argparse names the type in its one-line error


def _table(rows) -> str:
    from aecore.runs.compare import frame

    return frame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


def cmd_report(args) -> int:
    from aecore.runs import compare

    if args.csv and args.json:
        raise InvalidConfig("--csv and --json print the rows two ways: choose one")
    rows = compare.report(args.dataset).rows
    if args.csv:
        print(compare.frame(rows).to_csv(index=False), end="")
        return 0
    _emit(args, {"rows": [r.to_dict() for r in rows]},
          _table(rows) if rows else "no runs yet: try `aecore train` or `aecore sweep`")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aecore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parser.commands = sub.choices
    d = TrainConfig()
    # Options several commands share, each written once (a parent's actions are shared objects:
    # the head's differs by default, so each command gets its own)
    run, dataset, device = (argparse.ArgumentParser(add_help=False) for _ in range(3))
    run.add_argument("run_id", help="a run id, as `aecore runs` lists them")

    def head(default: str) -> argparse.ArgumentParser:
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--head", choices=HEADS, default=default,
                             help="linear is the classic softmax; mlp has one hidden layer of 256")
        options.add_argument("--jitter", action="store_true",
                             help="train the head on jittered digits too (the Draw page's head)")
        return options

    dataset.add_argument("--dataset", type=_dataset, default=d.dataset,
                         help=f"{', '.join(DATASETS)} or one added with `aecore data add`")
    device.add_argument("--device", default="auto", help=DEVICE_HELP)

    p = sub.add_parser("train", help="train an autoencoder (or load it from the cache)",
                       parents=[dataset, device])
    p.add_argument("--model", choices=MODELS, default=d.model,
                   help="; ".join(map(model_label, MODELS)) + "; conv reads drawings best")
    p.add_argument("--latent-dim", type=int, default=d.latent_dim,
                   help="the code's size k, 2 to 256")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training "
                   "images (MNIST's 60,000), 1 to 1000")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="images per step, 1 to 60,000 (more than a small dataset's training "
                        "split: all of it)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam's learning rate, above 0, "
                   "at most 10")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="the initial weights' and the batches' seed, 0 to 2^31-1")
    p.add_argument("--beta", type=float, default=d.beta,
                   help="the KL weight of vae and vae-conv, 0.1 to 10 (1: the plain VAE)")
    p.add_argument("--noise", type=float, default=d.noise,
                   help="denoising: the share of input pixels set to 0 each batch, 0 to 0.5")
    p.add_argument("--l1", type=float, default=d.l1,
                   help="sparse codes: the weight of each image's sum of |code| in the "
                        "loss, 0 to 1")
    p.add_argument("--force", action="store_true", help="retrain even if cached")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("embed", help="2-D map of a run's test codes, and how far to trust it",
                       parents=[run])
    p.add_argument("--method", choices=METHODS, default="umap",
                   help="umap keeps neighbourhoods; pca is linear and instant")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--over-training", action="store_true",
                       help="a map per snapshot of the test codes kept while training")
    which.add_argument("--all-digits", action="store_true",
                       help="map the training images with the test images (MNIST's 70,000)")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("classify", help="train and score a head on a run's codes",
                       parents=[run, head("linear")])
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("predict", help="classify image files with a run and a head",
                       parents=[run, head("mlp")])
    p.add_argument("images", nargs="+", help="PNG, JPEG or other image files, any size")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="a run for TensorBoard's projector, ONNX, or one HTML page",
                       parents=[run])
    p.add_argument("--projector", metavar="DIR",
                   help="tensors.tsv, metadata.tsv, sprite.png and projector_config.pbtxt: "
                        "open with tensorboard --logdir DIR, tab Projector")
    p.add_argument("--onnx", metavar="DIR", help="encoder.onnx and decoder.onnx (batch dynamic)")
    p.add_argument("--html", metavar="FILE", help="a self-contained report that opens offline")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("runs", help="list the cached runs")
    p.add_argument("--size", action="store_true",
                   help="each run's size on disk (its folder) and the whole cache's")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("rm", help="remove stored runs (weights and everything derived from them)")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids, as `aecore runs` "
                   "lists them")
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("sweep", help="train a grid of configs, then each one's heads and map",
                       parents=[dataset, device])
    p.add_argument("--models", default=d.model,
                   help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--latent-dims", default="2,4,8,16,32,64,128",
                   help="comma-separated sizes k, each 2 to 256")
    p.add_argument("--epochs", type=int, default=d.epochs, help="each run's, 1 to 1000")
    p.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: here, one after another; ray: one Ray task per config")
    p.add_argument("--address", help="a Ray cluster's address: auto, HOST:PORT or "
                                     "ray://HOST:PORT (default: start a local one)")
    p.add_argument("--cpus-per-task", type=_positive, default=1,
                   help="CPUs each Ray task asks for, above 0 (--backend ray)")
    p.set_defaults(func=cmd_sweep)

    cli_quality.add_parsers(sub, run)

    p = sub.add_parser("report", help="every stored run as a table row", parents=[dataset])
    p.add_argument("--csv", action="store_true", help="print CSV")
    p.set_defaults(func=cmd_report)

    data = sub.add_parser("data", help="your own image folders as datasets: add, list, remove")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser,
                                   help="add a folder, list them, or remove one")
    p = data_sub.add_parser("add", help="read a folder (or a .zip of one) into a dataset")
    p.add_argument("source", metavar="FOLDER_OR_ZIP", help="sub-folders are the classes "
                   "(FOLDER/cat/*.png); train/ and test/ at the top give the split")
    p.add_argument("--name", required=True, help="the dataset's name, as --dataset takes it")
    p.add_argument("--size", type=int, default=28, help="images are scaled to this square "
                   "side, 16 to 64")
    p.add_argument("--colour", action="store_true", help="keep colour (grey otherwise)")
    p.set_defaults(func=cmd_data_add)
    p = data_sub.add_parser("list", help="the datasets added")
    p.set_defaults(func=cmd_data_list)
    p = data_sub.add_parser("remove", help="remove an added dataset and the runs trained on it")
    p.add_argument("name", help="as `aecore data list` shows it")
    p.set_defaults(func=cmd_data_remove)

    for p in [*sub.choices.values(), *data_sub.choices.values()]:
        if p is not data:
            p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # a command of its own since the benchmarks left the engine
        print("aecore: error: the benchmarks are `aecore-bench` (or `make bench`)", file=sys.stderr)
        return 2
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command's parser, so its message points to its own --help
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING, format="aecore: %(message)s", stream=sys.stderr)
    try:
        from aecore.runs.store import sweep_temp

        sweep_temp()  # temp folders left by a killed writer
        return args.func(args)
    except AecoreError as exc:
        print(f"aecore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aecore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `aecore ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
