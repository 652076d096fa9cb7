"""`aecore-bench --smoke` reports every figure of the schema; targets are compared, not just
printed. The real figures come from `make bench` (never a time limit in a test)."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.targets import MAYBE, SCHEMA, SIZES, TARGETS, schema_problems, verdicts


def a_full_result() -> dict:
    """Every key of the schema, each a plausible number."""
    out = {}
    for key, kind in SCHEMA.items():
        out[key] = 1.0 if isinstance(kind, str) else {
            name: {"10k": 1.0} if sub == SIZES else 1.0 for name, sub in kind.items()}
    return out


def test_the_schema_names_what_is_missing_or_not_a_number():
    good = a_full_result()
    assert schema_problems(good) == []
    bad = json.loads(json.dumps(good))
    del bad["train"]["seconds_per_epoch"]
    bad["umap"]["warm_fit_s"] = None  # required: null is a missing figure
    bad["compare"]["render_ms"] = "12"
    bad["app_start_s"] = None  # optional: null is fine
    bad["predict_ms_p50"] = float("nan")
    bad["ui"]["lasso_to_gallery_s"] = {"10k": True}
    del bad["peak_rss_mb"]
    assert sorted(schema_problems(bad)) == [
        "compare.render_ms: '12' is not a number", "peak_rss_mb: missing",
        "predict_ms_p50: nan is not a number", "train.seconds_per_epoch: missing",
        "ui.lasso_to_gallery_s.10k: True is not a number",
        "umap.warm_fit_s: None is not a number"]


def test_every_target_names_a_figure_of_the_schema():
    for t in TARGETS:
        section, name = (t.key.split(".") + [""])[:2]
        kind = SCHEMA[section]
        assert isinstance(kind, str) or name in kind, t.key


def test_each_target_is_met_missed_or_not_measured():
    result = a_full_result()
    result["train"]["seconds_per_epoch"] = 0.7  # <= 0.5 wanted
    result["train"]["speedup_vs_naive"] = 6  # >= 5 wanted
    result["app_start_s"] = None
    words = {v.key: v.word for v in verdicts(result)}
    assert set(words) == {t.key for t in TARGETS}
    assert words["train.seconds_per_epoch"] == "MISSED"
    assert words["train.speedup_vs_naive"] == "met"
    assert words["app_start_s"] == "not measured"
    assert words["ui.lasso_to_gallery_s.10k"] == "MISSED"  # 1 s, <= 0.5 wanted
    assert words["ui.lasso_to_gallery_s.70k"] == "not measured"  # the quick run has no 70k map
    result["compare"]["render_ms"] = "fast"  # not a figure: not measured, never compared
    assert {v.key: v.word for v in verdicts(result)}["compare.render_ms"] == "not measured"


def test_the_app_figures_have_targets_and_a_smoke_run_measures_none():
    from benchmarks.app_pages import APP_KEYS, app_figures

    result = a_full_result()
    result["app"] |= {"runs_listing_ms_200": 120, "page_switch_s_200": 1.1,
                      "rss_growth_mb_20": None}
    result["draw"]["first_answer_new_run_s"] = 4.0
    words = {v.key: v.word for v in verdicts(result)}
    assert words["app.runs_listing_ms_200"] == "MISSED"  # <= 100 ms wanted
    assert words["app.page_switch_s_200"] == "met"  # a ratio, <= 1.2 wanted
    assert words["draw.first_answer_new_run_s"] == "met"  # <= 5 s wanted
    assert words["app.rss_growth_mb_20"] == "not measured"  # a full run's alone
    app, draw = app_figures("smoke")  # no server, no Chromium, nothing stored: at once
    assert set(app) == set(APP_KEYS) == set(SCHEMA["app"]) and set(draw) == set(SCHEMA["draw"])
    assert set(app.values()) == set(draw.values()) == {None}


@pytest.mark.slow  # a fresh interpreter with torch, and UMAP's compile
def test_smoke_bench_reports_every_figure(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--json"],
                          capture_output=True, text=True, timeout=280,
                          env={**os.environ, "AECORE_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["mode"] == "smoke" and schema_problems(r) == []
    t = r["train"]
    assert t["epochs_each"] == 1 and t["final_test_loss"] < 0.69  # below BCE at p = 0.5
    assert t["speedup_vs_naive"] == pytest.approx(
        t["naive_seconds_per_epoch"] / t["seconds_per_epoch"])
    conv = r["train_conv"]
    assert conv["speedup"] == pytest.approx(
        conv["eager_seconds_per_epoch"] / conv["seconds_per_epoch"])
    assert r["umap"]["knn_accuracy_2d"] > 0.5  # ten bars, chance 0.1
    assert r["umap"]["place_ms_p50"] <= r["umap"]["place_ms_p95"]
    assert r["predict_ms_p50"] <= r["predict_ms_p95"]
    assert r["compare"]["runs"] == 5
    # what a smoke run leaves out is said, and left null rather than made up
    assert r["skipped"] and r["app_start_s"] is None and r["sweep"]["overhead"] is None
    assert r["app"]["page_switch_s_200"] is None and r["draw"]["first_answer_new_run_s"] is None
    maybe = [k for k, v in SCHEMA["train"].items() if v == MAYBE]
    assert r["train"]["app_over_cli"] is None and "app_over_cli" in maybe
    # figures of synthetic bars: no target (set for MNIST) is said to be met or missed
    assert [v["key"] for v in r["targets"]] == [t.key for t in TARGETS]
    assert {v["verdict"] for v in r["targets"]} == {"not measured"}
