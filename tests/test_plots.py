"""Figures are pure functions of arrays: checked without a browser."""

import numpy as np

from aecore.figures import plots


def test_smoothing_lags_the_same_thinned_or_not():
    """The smoothed batch loss must not lag more when a long run is drawn with fewer points."""
    steps = np.arange(1, 4001, dtype=float)
    losses = np.where(steps < 2000, 1.0, 0.0)  # a step down at step 2000
    dense = plots.ema(steps, losses, span=50)
    thin_steps, thin_losses = plots.decimate(steps, losses, 200)
    thin = plots.ema(thin_steps, thin_losses, span=50)
    at = thin_steps.searchsorted(2400)
    assert abs(thin[at] - dense[int(thin_steps[at]) - 1]) < 0.05
    assert dense[2400] < 0.01  # 400 steps after the drop, 8 time constants: settled


def test_an_empty_loss_chart_has_no_made_up_axes():
    fig = plots.loss_figure([], [], [], 469)
    assert fig.layout.yaxis.type == "linear" and fig.layout.annotations


def test_curve_figure_draws_lines_bands_and_baselines():
    from aecore.runs.compare import CurvePoint, CurveSet

    points = [CurvePoint("dense · 10 ep", 2, 0.5, 0.4, 0.6, ["a", "b"]),
              CurvePoint("dense · 10 ep", 8, 0.9, 0.9, 0.9, ["c"]),
              CurvePoint("deep · 10 ep", 2, 0.7, 0.7, 0.7, ["d"])]
    fig = plots.curve_figure(CurveSet("mlp_accuracy", "MLP", points,
                                      {"raw pixels": [(2, 0.97), (8, 0.97)]}))
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["dense · 10 ep", "deep · 10 ep"]
    assert list(lines[0].customdata) == ["a, b", "c"]  # hover names the runs
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 1 and list(bands[0].y) == [0.6, 0.9, 0.9, 0.4]  # only dense spreads
    assert [t.name for t in fig.data if t.mode == "lines"] == ["raw pixels"]
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [2, 8]


def test_pair_map_greys_all_but_the_highlighted_digits():
    emb = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    labels = np.arange(50) % 10
    names = [str(d) for d in range(10)]
    plain = plots.pair_map_figure(emb, labels, names)
    assert sum(len(t.x) for t in plain.data) == 50 and plain.data[0].name == "0"
    lit = plots.pair_map_figure(emb, labels, names, highlight=np.array([3, 13, 7]))
    assert lit.data[0].name == "others" and len(lit.data[0].x) == 47
    assert sorted(int(i) for t in lit.data[1:] for i in t.customdata) == [3, 7, 13]
