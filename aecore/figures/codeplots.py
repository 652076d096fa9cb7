"""Figures of what a run's codes hold: a VAE's KL per dimension, each unit's activity."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from aecore.figures.plots import PALETTE, layout
from aecore.training.codestats import ACTIVE_KL, Sparsity


def kl_bars(kl_per_dim: list[float]) -> go.Figure:
    """One bar per latent dimension, in nats; the active ones (above ACTIVE_KL) coloured."""
    kl = np.asarray(kl_per_dim, dtype=float)
    active = kl > ACTIVE_KL
    fig = go.Figure(go.Bar(
        x=[str(d) for d in range(len(kl))], y=kl,
        marker_color=np.where(active, PALETTE[0], PALETTE[7]),
        customdata=np.where(active, "active", "inactive"),
        hovertemplate="dimension %{x}: %{y:.3f} nats (%{customdata})<extra></extra>"))
    fig.add_hline(y=ACTIVE_KL, line=dict(color=PALETTE[3], dash="dot"))
    # On a log axis an annotation's y is log10 of the value (an hline's own label was drawn
    # at the wrong height).
    fig.add_annotation(x=1, xref="paper", xanchor="right", y=np.log10(ACTIVE_KL), yref="y",
                       yanchor="bottom", text=f"active above {ACTIVE_KL} nats", showarrow=False,
                       font=dict(color=PALETTE[3]))
    fig.update_xaxes(title="latent dimension", type="category")
    # Log scale: a collapsed unit's 0.001 nats and an active one's 5 nats both read.
    fig.update_yaxes(title="KL, nats per image (test mean)", type="log")
    return layout(fig, f"KL per dimension: {int(active.sum())} of {len(kl)} units active", 320)


def activity_bars(stats: Sparsity) -> go.Figure:
    """Each dimension's share of test digits where it is not near zero, most used first."""
    share = np.asarray(stats.active_share)
    order = np.argsort(-share, kind="stable")
    fig = go.Figure(go.Bar(
        x=[str(d) for d in order], y=share[order], marker_color=PALETTE[0],
        customdata=np.asarray(stats.mean_abs)[order],
        hovertemplate="dimension %{x}: active for %{y:.1%} of the test images, mean |code| "
                      "%{customdata:.3f}<extra></extra>"))
    fig.update_xaxes(title="latent dimension (most active first)", type="category")
    fig.update_yaxes(title="share of test images where active", range=[0, 1], tickformat=".0%")
    return layout(fig, f"Activity per dimension: {stats.near_zero:.1%} of all code values are "
                       "near zero", 320)
