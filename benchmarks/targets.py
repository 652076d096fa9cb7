"""What `aecore-bench` reports: the keys of its JSON (a schema a smoke run checks) and the
targets its figures are compared with (met, missed, or not measured in this mode)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

NUMBER, MAYBE = "number", "number or null"  # MAYBE: a figure some modes do not measure
SIZES = "sizes or null"  # {"10k": number, "70k": number} or null: figures per map size

SCHEMA: dict[str, dict[str, str] | str] = {
    "time_to_quality_s": MAYBE,
    "time_to_quality_conv_s": MAYBE,
    "epochs_to_quality_conv": MAYBE,
    "predict_ms_p50": NUMBER,
    "predict_ms_p95": NUMBER,
    "app_start_s": MAYBE,
    "peak_rss_mb": NUMBER,
    "train": {
        "seconds_per_epoch": NUMBER, "naive_seconds_per_epoch": NUMBER,
        "speedup_vs_naive": NUMBER, "epochs_each": NUMBER, "epochs_to_quality": MAYBE,
        "final_test_loss": NUMBER, "first_page_empty_caches_s": MAYBE,
        "app_seconds_per_epoch": MAYBE, "cli_seconds_per_epoch": MAYBE, "app_over_cli": MAYBE,
        "app_epochs": MAYBE, "cli_epochs": MAYBE,
    },
    "train_conv": {"seconds_per_epoch": NUMBER, "eager_seconds_per_epoch": NUMBER,
                   "speedup": NUMBER, "epochs_each": NUMBER},
    "umap": {"warm_fit_s": NUMBER, "seeds": NUMBER, "knn_accuracy_2d": NUMBER,
             "cold_fit_s": MAYBE, "place_ms_p50": NUMBER, "place_ms_p95": NUMBER,
             "snapshots": MAYBE, "snapshots_fit_s": MAYBE,
             "snapshots_last_knn_accuracy_2d": MAYBE},
    "ui": {"play_fps": MAYBE, "lasso_to_gallery_s": SIZES},
    "sweep": {"configs": MAYBE, "sweep_s": MAYBE, "commands_s": MAYBE, "overhead": MAYBE},
    "compare": {"runs": NUMBER, "render_ms": NUMBER},
    # the app as its cache grows (benchmarks/app_pages.py); none measured by a smoke run
    "app": {"runs_listing_ms_200": MAYBE, "page_switch_s_200": MAYBE,
            "page_switch_s_at_5": MAYBE, "page_switch_s_at_200": MAYBE,
            "rss_growth_mb_20": MAYBE},
    "draw": {"first_answer_new_run_s": MAYBE},
    # a folder of rendered shapes as a dataset (benchmarks/own_images.py)
    "data": {"images": NUMBER, "import_s": NUMBER, "import_images_per_s": NUMBER,
             "test_loss": NUMBER, "seconds_per_epoch": NUMBER, "mnist_seconds_per_epoch": NUMBER,
             "epoch_over_mnist": NUMBER, "head_accuracy": NUMBER, "pixels_accuracy": NUMBER,
             "pca_accuracy": NUMBER, "knn_accuracy_2d": NUMBER},
    # suspect labels of the default run (benchmarks/data_quality.py)
    "data_quality": {"images": NUMBER, "suspects_train_s": NUMBER,
                     "precision_at_n_1pct": NUMBER, "baseline_precision_at_n_1pct": NUMBER},
}


def schema_problems(result: dict) -> list[str]:
    """Each key of SCHEMA missing from result, or holding the wrong kind of value."""
    problems = []

    def check(where: str, value, kind: str) -> None:
        if value is None and kind != NUMBER:
            return
        if kind == SIZES:
            if not isinstance(value, dict):
                problems.append(f"{where}: {value!r} is not a mapping of sizes")
            for size, figure in (value.items() if isinstance(value, dict) else ()):
                check(f"{where}.{size}", figure, NUMBER)
        elif not is_number(value):
            problems.append(f"{where}: {value!r} is not a {kind}")

    for key, kind in SCHEMA.items():
        if isinstance(kind, str):
            if key not in result:
                problems.append(f"{key}: missing")
            else:
                check(key, result[key], kind)
            continue
        section = result.get(key)
        if not isinstance(section, dict):
            problems.append(f"{key}: missing")
            continue
        for name, sub in kind.items():
            if name not in section:
                problems.append(f"{key}.{name}: missing")
            else:
                check(f"{key}.{name}", section[name], sub)
    return problems


@dataclass(frozen=True)
class Target:
    key: str      # dotted path into the result, e.g. "train.seconds_per_epoch"
    bound: float
    at_most: bool  # True: the figure must be <= bound; False: >= bound


@dataclass(frozen=True)
class Verdict:
    key: str
    value: float | None
    bound: float
    at_most: bool
    met: bool | None  # None: not measured in this mode

    @property
    def word(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]


TARGETS = [
    Target("train.seconds_per_epoch", 0.5, True),
    Target("train.speedup_vs_naive", 5, False),
    Target("time_to_quality_s", 10, True),
    Target("train_conv.speedup", 2, False),
    Target("umap.warm_fit_s", 3, True),
    Target("umap.cold_fit_s", 10, True),
    Target("umap.snapshots_fit_s", 30, True),
    Target("ui.lasso_to_gallery_s.10k", 0.5, True),
    Target("ui.lasso_to_gallery_s.70k", 1.5, True),
    Target("ui.play_fps", 5, False),
    Target("umap.place_ms_p95", 50, True),
    Target("predict_ms_p95", 50, True),
    Target("app_start_s", 6, True),
    Target("train.first_page_empty_caches_s", 6, True),
    Target("train.app_over_cli", 1.3, True),
    Target("sweep.overhead", 1.10, True),
    Target("compare.render_ms", 500, True),
    Target("app.runs_listing_ms_200", 100, True),
    Target("app.page_switch_s_200", 1.2, True),  # a ratio: 200 stored runs over 5
    Target("draw.first_answer_new_run_s", 5, True),
    Target("app.rss_growth_mb_20", 200, True),
    Target("peak_rss_mb", 2000, True),
    Target("data_quality.suspects_train_s", 60, True),
]


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def lookup(result: dict, key: str):
    value = result
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def verdicts(result: dict) -> list[Verdict]:
    """Every target against the figure measured, in TARGETS' order."""
    out = []
    for t in TARGETS:
        value = lookup(result, t.key)
        value = value if is_number(value) else None  # not measured (or not a figure)
        met = None if value is None else (value <= t.bound if t.at_most else value >= t.bound)
        out.append(Verdict(t.key, value, t.bound, t.at_most, met))
    return out


def verdict_rows(result: dict) -> list[dict]:
    return [asdict(v) | {"verdict": v.word} for v in verdicts(result)]
