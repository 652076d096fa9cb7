"""Figures of a 2-D map: one point per digit (customdata: its index), coloured by label or by a
value per digit, over the classifier's decision regions, or animated over training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from aecore.plots import PALETTE, layout

GRID_SIZE = 48  # invisible click targets per side over the map, for "decode this place"
FRAME_MS = 120  # Play's pace: about 8 frames a second when the browser keeps up
HOVER = "%{text}<br>index %{customdata}<extra></extra>"
COLOURINGS = {"label": "label", "error": "reconstruction error",
              "correct": "classifier right / wrong", "trust": "map trust"}


@dataclass(frozen=True)
class Colouring:
    """What colours the points: "label", or a value per digit [N] ("error": floats,
    "correct": booleans, "trust": the share of code neighbours kept, 0 to 1)."""
    kind: str = "label"
    values: np.ndarray | None = None


def _texts(names: np.ndarray, colouring: Colouring) -> np.ndarray:
    v = colouring.values
    if colouring.kind == "correct":
        return np.char.add(names, np.where(v, " · right", " · wrong"))
    word = {"error": " · error ", "trust": " · neighbours kept "}[colouring.kind]
    return np.char.add(np.char.add(names, word), np.char.mod("%.3f", v))


def _marker(colouring: Colouring, values: np.ndarray | None = None) -> dict:
    values = colouring.values if values is None else values
    if colouring.kind == "correct":
        return dict(size=4, color=np.where(values, "#9ecae1", "#d62728"))
    if colouring.kind == "trust":  # red where the map tore a digit from its neighbours
        return dict(size=4, color=values, colorscale="RdYlBu", cmin=0, cmax=1, showscale=True,
                    colorbar=dict(title="kept"))
    return dict(size=4, color=values, colorscale="Viridis", showscale=True,
                colorbar=dict(title="error"))


def _groups(labels: np.ndarray, label_names: list[str], colouring: Colouring) -> list:
    """(name, indices, colour) per trace: a trace per class when coloured by label (so the
    legend toggles classes), else one trace."""
    if colouring.kind == "label":
        return [(name, np.flatnonzero(labels == c), PALETTE[c % len(PALETTE)])
                for c, name in enumerate(label_names)]
    return [(COLOURINGS[colouring.kind], np.arange(len(labels)), None)]


def _point_traces(embedding: np.ndarray, labels: np.ndarray, label_names: list[str],
                  colouring: Colouring) -> list[go.Scattergl]:
    names = np.asarray(label_names)[labels]
    text = names if colouring.kind == "label" else _texts(names, colouring)
    traces = []
    for name, idx, colour in _groups(labels, label_names, colouring):
        marker = dict(size=4, color=colour) if colour else _marker(colouring)
        traces.append(go.Scattergl(x=embedding[idx, 0], y=embedding[idx, 1], mode="markers",
                                   name=name, customdata=idx, text=text[idx],
                                   hovertemplate=HOVER, marker=marker))
    return traces


def _click_grid(lo: np.ndarray, hi: np.ndarray) -> go.Scattergl:
    """Invisible click targets over the map: a click on an empty place reports its position."""
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID_SIZE), np.linspace(lo[1], hi[1],
                                                                         GRID_SIZE))
    return go.Scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty place",
                        showlegend=False, customdata=np.full(gx.size, -1), hoverinfo="none",
                        marker=dict(size=8, opacity=0))


def _regions_trace(regions) -> go.Heatmap:
    """The classifier's answer at each place, shaded under the points in the class colours."""
    n = len(PALETTE)
    scale = [[edge, PALETTE[c]] for c in range(n) for edge in (c / n, (c + 1) / n)]
    return go.Heatmap(x=regions.x, y=regions.y, z=regions.classes, zmin=-0.5, zmax=n - 0.5,
                      colorscale=scale, opacity=0.22, showscale=False, hoverinfo="skip",
                      name="classifier regions")


def _finish(fig: go.Figure, title: str) -> go.Figure:
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, scaleanchor="x", showgrid=False,
                     zeroline=False)
    return layout(fig, title, height=560)


def map_figure(embedding: np.ndarray, labels: np.ndarray, label_names: list[str],
               colouring: Colouring = Colouring(), marks: np.ndarray | None = None,
               title: str = "", regions=None) -> go.Figure:
    """Digits as points [N, 2]; marks: extra points [M, 2] drawn as stars; regions: a
    trust.Regions shaded under the points."""
    fig = go.Figure()
    if regions is not None:
        fig.add_trace(_regions_trace(regions))
    fig.add_traces(_point_traces(embedding, labels, label_names, colouring))
    fig.add_trace(_click_grid(embedding.min(0), embedding.max(0)))
    if marks is not None and len(marks):
        fig.add_scatter(x=marks[:, 0], y=marks[:, 1], mode="markers", name="your digit",
                        marker=dict(symbol="star", size=22, color="black",
                                    line=dict(color="white", width=2)))
    return _finish(fig, title)


def training_figure(embeddings: np.ndarray, epochs: list[float], labels: np.ndarray,
                    label_names: list[str], colouring: Colouring = Colouring(),
                    frame_values: np.ndarray | None = None, title: str = "") -> go.Figure:
    """The map at every snapshot [S, N, 2] as animation frames, with an epoch slider and
    Play; it opens on the first snapshot. frame_values [S, N] colour each frame on its own
    (trust), else `colouring` holds for every frame."""
    groups = _groups(labels, label_names, colouring)
    fig = go.Figure(_point_traces(embeddings[0], labels, label_names, colouring))
    lo, hi = embeddings.min((0, 1)), embeddings.max((0, 1))
    fig.add_trace(_click_grid(lo, hi))
    frames = []
    for s, epoch in enumerate(epochs):
        data = []
        for _, idx, colour in groups:
            trace = go.Scattergl(x=embeddings[s, idx, 0], y=embeddings[s, idx, 1])
            if frame_values is not None and colour is None:
                trace.marker = _marker(colouring, frame_values[s, idx])
            data.append(trace)
        frames.append(go.Frame(data=data, name=f"{epoch:g}", traces=list(range(len(groups)))))
    fig.frames = frames
    pad = 0.05 * (hi - lo)
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]], autorange=False)
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]], autorange=False)
    step = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate",
            "transition": {"duration": 0}}
    play = {"frame": {"duration": FRAME_MS, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.02, xanchor="left",
                          yanchor="top", showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, play]),
                              dict(label="❚❚ Pause", method="animate",
                                   args=[[None], {**step, "frame": {"duration": 0,
                                                                    "redraw": False}}])])],
        sliders=[dict(active=0, x=0.16, len=0.84, y=-0.02, yanchor="top",
                      currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=f.name, method="animate", args=[[f.name], step])
                             for f in frames])])
    fig = _finish(fig, title)
    fig.update_layout(height=640, margin=dict(b=90))
    return fig
