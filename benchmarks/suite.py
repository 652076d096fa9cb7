"""`aecore-bench`: the fast paths measured on this machine, each against a baseline run in the
same process at the same time (absolute seconds on shared machines move from run to run)."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aecore.analysis import projection
from aecore.analysis.classify import train_head
from aecore.analysis.projection import Map
from aecore.core.config import HeadConfig, ProjectionConfig, TrainConfig
from aecore.core.paths import set_numba_cache
from aecore.data import datasets
from aecore.models import from_config
from aecore.training import latents, loop
from benchmarks.app_pages import app_figures
from benchmarks.appserver import APP, browser, chromium_missing, streamlit_server
from benchmarks.compare import aecore_json, bench_compare_render, bench_sweep_overhead
from benchmarks.conv import bench_train_conv, time_to_quality_conv
from benchmarks.data_quality import bench_suspects
from benchmarks.explore import bench_explore
from benchmarks.own_images import bench_own_images
from benchmarks.targets import schema_problems, verdict_rows, verdicts
from benchmarks.ui import slide_to

QUALITY_BAR = 0.092


def naive_source(data: datasets.Dataset, smoke: bool):
    """The textbook input pipeline: torchvision's MNIST from its files with ToTensor; on a
    smoke run, the same per-image PIL and ToTensor work over the in-memory images."""
    from torchvision import datasets as tv
    from torchvision.transforms import ToTensor

    if not smoke:
        root = datasets.locate("mnist").parent.parent
        return tv.MNIST(str(root), train=True, transform=ToTensor(), download=False)

    class InMemory(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(data.train_x)

        def __getitem__(self, i: int):
            image = Image.fromarray(data.train_x[i].numpy(), mode="L")
            return ToTensor()(image), int(data.train_y[i])

    return InMemory()


def naive_epoch(model, opt, source, batch_size: int) -> float:
    """One epoch the textbook way: a shuffling DataLoader over per-image transforms."""
    from torch.utils.data import DataLoader

    loader = DataLoader(source, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    model.train()
    for x, _ in loader:
        loss = model.loss(x.view(len(x), -1))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def bench_train(data: datasets.Dataset, epochs: int, smoke: bool = False) -> dict:
    """Our loop's epochs and the naive loop's, alternated, on the same model and batch size."""
    cfg = TrainConfig(epochs=epochs)
    source = naive_source(data, smoke)
    naive_model = from_config(cfg)
    naive_opt = torch.optim.Adam(naive_model.parameters(), lr=1e-3)
    ours, naive = [], []
    for event in loop.run(cfg, data, device="cpu"):
        if isinstance(event, loop.EpochEvent):
            ours.append(event.train_seconds)
            naive.append(naive_epoch(naive_model, naive_opt, source, cfg.batch_size))
    fast, slow = statistics.median(ours), statistics.median(naive)
    return {"seconds_per_epoch": fast, "naive_seconds_per_epoch": slow,
            "speedup_vs_naive": slow / fast, "epochs_each": epochs}


def time_to_quality(data: datasets.Dataset, cfg: TrainConfig | None = None
                    ) -> tuple[dict, loop.DoneEvent]:
    """Wall seconds of the default run until its test BCE first reaches the bar; the run goes
    on to its 10 epochs, and its model (and snapshots) serve the map and prediction
    benchmarks."""
    start = time.perf_counter()
    out = {"time_to_quality_s": None, "epochs_to_quality": None}
    for event in loop.run(cfg or TrainConfig(), data, device="auto"):
        if isinstance(event, loop.EpochEvent) and event.test_loss <= QUALITY_BAR \
                and out["time_to_quality_s"] is None:
            out = {"time_to_quality_s": time.perf_counter() - start,
                   "epochs_to_quality": event.epoch}
        if isinstance(event, loop.DoneEvent):
            out["final_test_loss"] = event.history.epochs[-1]["test_loss"]
            event.model.cpu()
            return out, event
    raise RuntimeError("training ended without a DoneEvent")


_COLD_FIT = """
import sys, time, numpy as np, torch
start = time.perf_counter()
from aecore.analysis import projection
from aecore.core.config import ProjectionConfig
codes = torch.from_numpy(np.load(sys.argv[1]))
projection.fit(codes, ProjectionConfig())
print(time.perf_counter() - start)
"""


def cold_fit_seconds(codes: torch.Tensor) -> float | None:
    """A map fitted in a fresh process (numba's compile cache present), its seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "codes.npy"
        np.save(path, codes.numpy())
        proc = subprocess.run([sys.executable, "-c", _COLD_FIT, str(path)], capture_output=True,
                              text=True, env={**os.environ}, timeout=600)
    return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None


def bench_umap(codes: torch.Tensor, labels: np.ndarray, defaults: bool, cold: bool = True
               ) -> tuple[dict, Map]:
    """Our map's fit times and 2-D accuracy; with `defaults`, UMAP as it comes beside it. The
    accuracy moves by about 0.01 from seed to seed, so the full run averages three seeds.
    `cold` times a fit in a fresh process too (a smoke run leaves it out)."""
    set_numba_cache()
    projection.warm_up()  # compile (or load from the cache) before timing the warm fit
    seeds = (0, 1, 2) if defaults else (0,)
    fits, times = [], []
    for seed in seeds:
        start = time.perf_counter()
        fits.append(projection.fit(codes, ProjectionConfig(seed=seed)))
        times.append(time.perf_counter() - start)
    fitted = fits[0]
    out = {"warm_fit_s": statistics.median(times), "seeds": len(seeds),
           "knn_accuracy_2d": statistics.mean(
               projection.knn_accuracy_2d(f.embedding, labels) for f in fits)}
    out["cold_fit_s"] = cold_fit_seconds(codes) if cold else None
    _placing(codes, fitted, out)
    if defaults:  # UMAP as it comes: pynndescent's kNN, 200 layout epochs for 10k points
        import umap

        # compile first: 5,000 points, so that pynndescent (used from 4,096 up) compiles too
        umap.UMAP(random_state=0).fit_transform(codes[:5000].numpy())
        accuracies, times = [], []
        for seed in seeds:
            start = time.perf_counter()
            emb = umap.UMAP(random_state=seed).fit_transform(codes.numpy())
            times.append(time.perf_counter() - start)
            accuracies.append(projection.knn_accuracy_2d(emb, labels))
        out["umap_defaults_fit_s"] = statistics.median(times)
        out["umap_defaults_knn_accuracy_2d"] = statistics.mean(accuracies)
    return out, fitted


def _placing(codes: torch.Tensor, fitted: Map, out: dict) -> dict:
    """Milliseconds to place one new code on the fitted map (p50, p95), added to out."""
    times = []
    gen = torch.Generator().manual_seed(0)
    for i in range(300):
        new = codes[i % len(codes)][None] + 0.05 * torch.randn(1, codes.shape[1], generator=gen)
        t = time.perf_counter()
        projection.place(new, fitted)
        times.append((time.perf_counter() - t) * 1000)
    out["place_ms_p50"], out["place_ms_p95"] = np.percentile(times, [50, 95]).tolist()
    return out


def bench_predict(model, data: datasets.Dataset, train_codes: torch.Tensor,
                  fitted: projection.Map) -> dict:
    """A canvas image (280x280 RGBA) to digit and map position, as the Draw page does it."""
    from aecore.data.preprocess import to_mnist

    head = train_head(train_codes, data.train_y, HeadConfig(head="mlp", epochs=1))
    canvases = []
    for img in data.test_x[:100].numpy():
        big = np.kron(img, np.ones((10, 10), np.uint8))
        canvases.append(np.dstack([big, big, big, np.full_like(big, 255)]))
    times = []
    for canvas in canvases:
        t = time.perf_counter()
        pixels = torch.from_numpy(to_mnist(canvas)).reshape(1, -1)
        code = latents.encode(model, pixels)
        head.probabilities(code)
        projection.place(code, fitted)
        times.append((time.perf_counter() - t) * 1000)
    p50, p95 = np.percentile(times, [50, 95]).tolist()
    return {"predict_ms_p50": p50, "predict_ms_p95": p95}


def bench_app_start() -> dict:
    """From `streamlit run` to the Train page's title rendered in Chromium."""
    if not APP.exists():
        return {"app_start_s": None, "app_start_note": "run from a checkout to measure"}
    if reason := chromium_missing():
        return {"app_start_s": None, "app_start_note": reason}
    with tempfile.TemporaryDirectory() as tmp, browser() as b:
        page = b.new_page()
        start = time.perf_counter()
        with streamlit_server(Path(tmp) / "cache", {"AECORE_WARMUP": "1"}) as url:
            page.goto(url)
            page.get_by_text("Train an autoencoder").wait_for(timeout=120_000)
            return {"app_start_s": time.perf_counter() - start}


APP_TRAINING_KEYS = ("first_page_empty_caches_s", "app_seconds_per_epoch",
                     "cli_seconds_per_epoch", "app_over_cli", "app_epochs", "cli_epochs")


def bench_app_training(epochs: int = 10) -> dict:
    """The default run (with `epochs`) trained through the app in Chromium, live chart and
    all, on a server started with empty caches (numba's too: the map worker compiles
    meanwhile), against the same run from `aecore train` in the same sitting."""

    reason = chromium_missing() if APP.exists() else "run from a checkout to measure"
    if reason:
        return dict.fromkeys(APP_TRAINING_KEYS) | {"note": reason}
    with tempfile.TemporaryDirectory() as tmp, browser() as b:
        cache = Path(tmp) / "cache"
        env = {"AECORE_CACHE_DIR": str(cache), "NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}
        page = b.new_page()
        start = time.perf_counter()
        with streamlit_server(cache, env) as url:
            page.goto(url)
            page.get_by_text("Train an autoencoder").wait_for(timeout=120_000)
            first_page = time.perf_counter() - start
            if epochs != TrainConfig().epochs:
                slide_to(page, "Epochs", epochs)
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text(f"trained {epochs} epoch").first.wait_for(timeout=900_000)
        # Mean wall seconds per epoch, the slow first epochs included (a median hides them).
        run = aecore_json(env, "runs")["runs"][0]["metrics"]
        app = run["seconds"] / run["epochs_done"]
        cli = aecore_json(env, "train", "--epochs", str(epochs), "--force")
        cli_seconds = cli["seconds"] / cli["epochs"]
    return {"first_page_empty_caches_s": first_page, "app_seconds_per_epoch": app,
            "cli_seconds_per_epoch": cli_seconds, "app_over_cli": app / cli_seconds,
            "app_epochs": run["epochs_done"], "cli_epochs": cli["epochs"]}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": str(loop.pick_device("auto")), "cpu": model,
            "torch": torch.__version__, "python": platform.python_version()}


MODES = ("full", "quick", "smoke")
# What a smoke run leaves out, and why: it runs on synthetic bars in this process alone.
SMOKE_SKIPS = {
    "time to the quality bars": "the bars are MNIST's, not the synthetic data's",
    "cold map fit": "a fresh process",
    "map over training, lasso, Play": "a stored run on real data and Chromium",
    "app start and training in the app": "a server and Chromium",
    "sweep against single commands": "fresh processes on real data",
    "listing 200 runs": "storing them takes about 20 s",
    "page switch, Draw's first answer, the server's memory over a sweep": "a server and Chromium",
}


def run(mode: str = "full") -> dict:
    """Every figure; `quick` fewer epochs and seeds, `smoke` synthetic bars (1 epoch each) and
    no other process, for checking the report's shape (SCHEMA) in seconds."""
    smoke, quick = mode == "smoke", mode != "full"
    data = datasets.bars(2000, 500) if smoke else datasets.load("mnist")
    result = {"mode": mode, "quick": quick, "machine": machine(),
              "skipped": SMOKE_SKIPS if smoke else {}}
    result["train"] = bench_train(data, epochs=1 if smoke else 2 if quick else 4, smoke=smoke)
    quality, done = time_to_quality(data, TrainConfig(epochs=1) if smoke else TrainConfig())
    model = done.model
    seconds = quality.pop("time_to_quality_s")
    if smoke:  # the bar is MNIST's: on synthetic bars, reaching it says nothing
        seconds = quality["epochs_to_quality"] = None
    result["time_to_quality_s"] = seconds
    result["train"].update(quality)
    result["train_conv"] = bench_train_conv(data, epochs=1 if quick else 3)
    result.update(dict.fromkeys(["time_to_quality_conv_s", "epochs_to_quality_conv"])
                  if smoke else time_to_quality_conv(data))
    train_codes = latents.encode(model, data.train_x)
    test_codes = latents.encode(model, data.test_x)
    result["umap"], fitted = bench_umap(test_codes, data.test_y.numpy(), defaults=not quick,
                                        cold=not smoke)
    if smoke:
        explore = dict.fromkeys(["snapshots", "snapshots_fit_s",
                                 "snapshots_last_knn_accuracy_2d"])
        result["ui"] = {"lasso_to_gallery_s": None, "play_fps": None}
    else:
        explore, result["ui"] = bench_explore(TrainConfig(), done, all_digits=not quick)
    result["umap"].update(explore)
    result.update(bench_predict(model, data, train_codes, fitted))
    if smoke:
        result["app_start_s"] = None
        result["train"].update(dict.fromkeys(APP_TRAINING_KEYS))
        result["sweep"] = dict.fromkeys(["configs", "sweep_s", "commands_s", "overhead"])
    else:
        result.update(bench_app_start())
        result["train"].update(bench_app_training(epochs=3 if quick else 10))
        result["sweep"] = bench_sweep_overhead((32,) if quick else (8, 16, 32))
    result["compare"] = bench_compare_render(n_runs=5 if smoke else 50)
    result["app"], result["draw"] = app_figures(mode)
    result["data"] = bench_own_images(data, per_class=25 if smoke else 350,
                                      epochs=1 if smoke else 10)
    result["data_quality"] = bench_suspects(data, smoke)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # a smoke run's figures are of synthetic bars: no target speaks of them
    result["targets"] = verdict_rows({} if smoke else result)
    return result


def table(r: dict) -> str:
    t, u, a, d = r["train"], r["umap"], r["app"], r["data"]

    def f(v, unit="", digits=2):
        return "n/a" if v is None else f"{v:.{digits}f}{unit}"

    rows = [
        ("train: seconds per epoch (ours)", f(t["seconds_per_epoch"], " s"), "<= 0.5"),
        ("train: seconds per epoch (DataLoader + ToTensor)",
         f(t["naive_seconds_per_epoch"], " s"), ""),
        ("train: speedup vs naive", f(t["speedup_vs_naive"], "x", 1), ">= 5"),
        ("time to test BCE 0.092", f(r["time_to_quality_s"], " s", 1), "<= 10"),
        ("train conv: seconds per epoch (ours)", f(r["train_conv"]["seconds_per_epoch"], " s"),
         ""),
        ("train conv: seconds per epoch (plain eager loop)",
         f(r["train_conv"]["eager_seconds_per_epoch"], " s"), ""),
        ("train conv: speedup vs eager", f(r["train_conv"]["speedup"], "x", 2), ">= 2"),
        ("conv: time to test BCE 0.080", f(r["time_to_quality_conv_s"], " s", 1), ""),
        ("UMAP warm fit (10k codes)", f(u["warm_fit_s"], " s"), "<= 3"),
        ("UMAP cold fit (fresh process, compile cache present)", f(u["cold_fit_s"], " s"),
         "<= 10"),
        (f"UMAP 2-D 5-NN accuracy (mean of {u['seeds']} seeds)", f(u["knn_accuracy_2d"], "", 3),
         ">= defaults"),
    ]
    if "umap_defaults_fit_s" in u:
        rows += [("UMAP defaults: warm fit", f(u["umap_defaults_fit_s"], " s"), ""),
                 ("UMAP defaults: 2-D 5-NN accuracy",
                  f(u["umap_defaults_knn_accuracy_2d"], "", 3), "")]
    rows += [
        (f"map over training: {u['snapshots']} snapshots fitted (numba warm)",
         f(u["snapshots_fit_s"], " s", 1), "<= 30"),
    ]
    if "all_digits_s" in u:
        rows += [("map of all 70,000 digits (kNN, UMAP, accuracy)", f(u["all_digits_s"], " s", 1),
                  "")]
    lasso = r["ui"].get("lasso_to_gallery_s") or {}
    rows += [
        ("lasso to gallery in Chromium, 10,000 digits", f(lasso.get("10k"), " s"), "<= 0.5"),
        ("lasso to gallery in Chromium, 70,000 digits", f(lasso.get("70k"), " s"), "<= 1.5"),
        ("Play over training in Chromium (10,000 points)", f(r["ui"].get("play_fps"), " fps", 1),
         ">= 5"),
        ("place one point p50 / p95", f"{f(u['place_ms_p50'], ' ms')} / "
                                      f"{f(u['place_ms_p95'], ' ms')}", "p95 <= 50 ms"),
        ("canvas to prediction p50 / p95", f"{f(r['predict_ms_p50'], ' ms')} / "
                                           f"{f(r['predict_ms_p95'], ' ms')}", "p95 <= 50 ms"),
        ("app start to first page", f(r.get("app_start_s"), " s", 1), "<= 6"),
        ("first page, empty caches (numba's too)", f(t.get("first_page_empty_caches_s"), " s", 1),
         "<= 6"),
        ("train in the app, live chart: seconds per epoch", f(t.get("app_seconds_per_epoch"),
                                                               " s"), ""),
        ("train from the CLI, same sitting: seconds per epoch",
         f(t.get("cli_seconds_per_epoch"), " s"), ""),
        ("train: app over CLI (first training after start)", f(t.get("app_over_cli"), "x"),
         "<= 1.3"),
        (f"sweep over single commands ({r['sweep']['configs']} configs, 1 epoch)",
         f(r["sweep"]["overhead"], "x"), "<= 1.10"),
        (f"Compare page: table and curves of {r['compare']['runs']} runs",
         f(r["compare"]["render_ms"], " ms", 0), "<= 500 ms"),
        ("peak RSS (train + map)", f(r["peak_rss_mb"], " MB", 0), "<= 2000"),
        ("listing 200 stored runs (sidebar, `aecore runs`)",
         f(a["runs_listing_ms_200"], " ms", 0), "<= 100 ms"),
        ("page switch in Chromium: 200 stored runs over 5", f(a["page_switch_s_200"], "x"),
         "<= 1.2"),
        ("Draw: first answer on a new run (nearest codes)",
         f(r["draw"]["first_answer_new_run_s"], " s", 1), "<= 5"),
        ("server RSS growth over a sweep of 20 trainings", f(a["rss_growth_mb_20"], " MB", 0),
         "<= 200"),
        (f"own images: import of {d['images']:,} rendered shapes",
         f(d["import_images_per_s"], " img/s", 0), ""),
        ("own images: one epoch over MNIST's, same image count", f(d["epoch_over_mnist"], "x"),
         ""),
        ("own images: MLP head on codes / pixels / PCA: accuracy",
         f"{f(d['head_accuracy'], '', 3)} / {f(d['pixels_accuracy'], '', 3)} / "
         f"{f(d['pca_accuracy'], '', 3)}", ""),
        ("own images: map 2-D 5-NN accuracy", f(d["knn_accuracy_2d"], "", 3), ""),
        (f"suspect labels: rank the {r['data_quality']['images']:,} training images",
         f(r["data_quality"]["suspects_train_s"], " s", 1), "<= 60"),
        ("suspect labels: 1 % flipped, share found in the top N (ours / head's confidence)",
         f"{f(r['data_quality']['precision_at_n_1pct'], '', 3)} / "
         f"{f(r['data_quality']['baseline_precision_at_n_1pct'], '', 3)}", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    m = r["machine"]
    lines = [f"{name:<{width}}  {value:>18}  {target}" for name, value, target in rows]
    checked = verdicts({} if r["mode"] == "smoke" else r)
    count = {word: sum(v.word == word for v in checked) for word in ("met", "MISSED")}
    missed = [f"  missed: {v.key} = {v.value:.3g} ({'<=' if v.at_most else '>='} {v.bound:g})"
              for v in checked if v.met is False]
    return "\n".join([f"machine: {m['cores']} cores, {m['torch_threads']} torch threads, "
                      f"{m['device']}, {m['cpu']}, torch {m['torch']} ({r['mode']} run)", *lines,
                      f"targets: {count['met']} met, {count['MISSED']} missed, "
                      f"{len(checked) - count['met'] - count['MISSED']} not measured"
                      + (" (set for the full run on MNIST: a smoke run checks the report's "
                         "shape, not the figures)" if r["mode"] == "smoke" else ""), *missed])


def main(args) -> int:
    result = run("smoke" if args.smoke else "quick" if args.quick else "full")
    if problems := schema_problems(result):  # a report missing a figure is a bug, not a result
        raise RuntimeError("the bench's report lacks: " + "; ".join(problems))
    print(json.dumps(result) if args.json else table(result))
    return 0
