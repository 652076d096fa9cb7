"""Figures of what a run's codes hold: a VAE's KL per dimension, each unit's activity."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from aecore.codestats import ACTIVE_KL, Sparsity
from aecore.plots import PALETTE, layout


def kl_bars(kl_per_dim: list[float]) -> go.Figure:
    """One bar per latent dimension, in nats; the active ones (above ACTIVE_KL) coloured."""
    kl = np.asarray(kl_per_dim, dtype=float)
    active = kl > ACTIVE_KL
    fig = go.Figure(go.Bar(
        x=np.arange(len(kl)), y=kl, marker_color=np.where(active, PALETTE[0], PALETTE[7]),
        customdata=np.where(active, "active", "inactive"),
        hovertemplate="dimension %{x}: %{y:.3f} nats (%{customdata})<extra></extra>"))
    fig.add_hline(y=ACTIVE_KL, line=dict(color=PALETTE[3], dash="dot"),
                  annotation_text=f"{ACTIVE_KL} nats", annotation_position="top right")
    fig.update_xaxes(title="latent dimension")
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
        hovertemplate="dimension %{x}: active for %{y:.1%} of the digits, mean |code| "
                      "%{customdata:.3f}<extra></extra>"))
    fig.update_xaxes(title="latent dimension (most active first)", type="category")
    fig.update_yaxes(title="share of test digits where active", range=[0, 1], tickformat=".0%")
    return layout(fig, f"Activity per dimension: {stats.near_zero:.1%} of all code values are "
                       "near zero", 320)
