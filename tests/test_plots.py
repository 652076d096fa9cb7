"""Figures are pure functions of arrays: checked without a browser."""

import numpy as np

from aecore import plots


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
