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


def test_a_thousand_classes_stay_readable():
    """An added dataset may hold 1,000 classes: the figures keep a bounded number of traces,
    cells and bars, name what they left out, and never a legend of a thousand entries."""
    from aecore.figures import mapplots

    n, rng = 1000, np.random.default_rng(0)
    names = [f"class {c}" for c in range(n)]
    labels = np.arange(3000) % n
    confusion = np.diag(np.full(n, 5))
    confusion[7, 900] = confusion[900, 7] = 4  # the two most confused classes
    confusion[3, 4] = 2
    heat = plots.confusion_heatmap(confusion.tolist(), names)
    assert len(heat.data[0].x) == plots.CONFUSION_MAX
    assert {"class 7", "class 900", "class 3", "class 4"} <= set(heat.data[0].x)
    assert "30 most confused of 1000" in heat.layout.title.text
    assert heat.data[0].texttemplate is None  # no count written in 900 cells
    per_class = rng.uniform(0.5, 1.0, n)
    per_class[123] = 0.0
    bars = plots.per_class_bars(per_class.tolist(), names)
    assert len(bars.data[0].x) == plots.BARS_MAX and bars.data[0].x[0] == "class 123"
    probs = np.full(n, 0.0005)
    probs[42] = 0.5
    answer = plots.probability_bars(probs.tolist(), names)
    assert len(answer.data[0].x) == plots.ANNOTATED_MAX and answer.data[0].x[0] == "class 42"

    emb = rng.normal(size=(3000, 2))
    fig = mapplots.map_figure(emb, labels, names)
    points = [t for t in fig.data if t.name != "empty place"]
    assert len(points) == len(plots.WIDE_PALETTE)
    assert all(t.showlegend is False for t in points)
    assert sum(len(t.x) for t in points) == 3000
    hovered = next(t for t in points if 0 in t.customdata)
    assert hovered.text[list(hovered.customdata).index(0)] == "class 0"
    animated = mapplots.training_figure(np.stack([emb, emb]), [1.0, 2.0], labels, names)
    assert len(animated.data) == len(plots.WIDE_PALETTE) and animated.layout.showlegend is False
    pair = plots.pair_map_figure(emb, labels, names)
    assert len(pair.data) == len(plots.WIDE_PALETTE)


def test_26_classes_get_26_colours_and_a_legend():
    from aecore.figures import mapplots

    names = [chr(65 + c) for c in range(26)]
    fig = mapplots.map_figure(np.zeros((52, 2)), np.arange(52) % 26, names)
    points = [t for t in fig.data if t.name != "empty place"]
    assert [t.name for t in points] == names
    assert not any(t.showlegend is False for t in points)
    assert len({t.marker.color for t in points}) == 26
    small = plots.confusion_heatmap(np.eye(10, dtype=int).tolist(), [str(d) for d in range(10)])
    assert small.layout.title.text == "Confusion matrix (test set)"
    assert small.data[0].texttemplate == "%{text}"
