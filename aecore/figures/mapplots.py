"""Figures of a 2-D map: one point per digit (customdata: its index), coloured by label or by a
value per digit, over the classifier's decision regions, or animated over training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from aecore.figures.plots import LEGEND_MAX, WIDE_PALETTE, class_colours, class_groups, layout

GRID_SIZE = 48  # invisible click targets per side over the map, for "decode this place"
FRAME_MS = 40  # Play waits this long after each frame is drawn
HOVER = "%{text}<br>index %{customdata}<extra></extra>"
COLOURINGS = {"label": "label", "error": "reconstruction error",
              "correct": "classifier right / wrong", "trust": "map trust"}
# Beyond Explore's: the Data quality page colours by cleanlab's label quality (0 to 1).
NAMES = {**COLOURINGS, "quality": "label quality"}


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
    word = {"error": " · error ", "trust": " · neighbours kept ",
            "quality": " · label quality "}[colouring.kind]
    return np.char.add(np.char.add(names, word), np.char.mod("%.3f", v))


def _marker(colouring: Colouring, values: np.ndarray | None = None) -> dict:
    values = colouring.values if values is None else values
    if colouring.kind == "correct":
        return dict(size=4, color=np.where(values, "#9ecae1", "#d62728"))
    if colouring.kind == "trust":  # red where the map tore a digit from its neighbours
        return dict(size=4, color=values, colorscale="RdYlBu", cmin=0, cmax=1, showscale=True,
                    colorbar=dict(title="kept"))
    if colouring.kind == "quality":  # red where the label is doubtful
        return dict(size=4, color=values, colorscale="RdYlBu", cmin=0, cmax=1, showscale=True,
                    colorbar=dict(title="label quality"))
    return dict(size=4, color=values, colorscale="Viridis", showscale=True,
                colorbar=dict(title="error"))


def _groups(labels: np.ndarray, label_names: list[str], colouring: Colouring) -> list:
    """(name, indices, colour) per trace: by class when coloured by label (plots.class_groups),
    else one trace."""
    if colouring.kind == "label":
        return class_groups(labels, label_names)
    return [(NAMES[colouring.kind], np.arange(len(labels)), None)]


def _point_traces(embedding: np.ndarray, labels: np.ndarray, label_names: list[str],
                  colouring: Colouring) -> list[go.Scattergl]:
    names = np.asarray(label_names)[labels]
    text = names if colouring.kind == "label" else _texts(names, colouring)
    traces = []
    for name, idx, colour in _groups(labels, label_names, colouring):
        marker = dict(size=4, color=colour) if colour else _marker(colouring)
        traces.append(go.Scattergl(x=embedding[idx, 0], y=embedding[idx, 1], mode="markers",
                                   name=name, customdata=idx, text=text[idx],
                                   hovertemplate=HOVER, marker=marker,
                                   showlegend=None if len(label_names) <= LEGEND_MAX or not colour
                                   else False))
    return traces


def _click_grid(lo: np.ndarray, hi: np.ndarray) -> go.Scattergl:
    """Invisible click targets over the map: a click on an empty place reports its position."""
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID_SIZE), np.linspace(lo[1], hi[1],
                                                                         GRID_SIZE))
    return go.Scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty place",
                        showlegend=False, customdata=np.full(gx.size, -1), hoverinfo="none",
                        marker=dict(size=8, opacity=0))


def _regions_trace(regions, n_classes: int) -> go.Heatmap:
    """The classifier's answer at each place, shaded under the points in the class colours."""
    palette = class_colours(n_classes)[:len(WIDE_PALETTE)]
    n = len(palette)
    scale = [[edge, palette[c]] for c in range(n) for edge in (c / n, (c + 1) / n)]
    return go.Heatmap(x=regions.x, y=regions.y, z=regions.classes % n, zmin=-0.5, zmax=n - 0.5,
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
        fig.add_trace(_regions_trace(regions, len(label_names)))
    fig.add_traces(_point_traces(embedding, labels, label_names, colouring))
    fig.add_trace(_click_grid(embedding.min(0), embedding.max(0)))
    if marks is not None and len(marks):
        fig.add_scatter(x=marks[:, 0], y=marks[:, 1], mode="markers", name="your drawing",
                        marker=dict(symbol="star", size=22, color="black",
                                    line=dict(color="white", width=2)))
    return _finish(fig, title)


def clusters_figure(embedding: np.ndarray, assignment: np.ndarray) -> go.Figure:
    """The map coloured by cluster (assignment -1: noise, light grey, drawn first); cluster
    colours skip grey, so no cluster reads as noise."""
    fig = go.Figure()
    noise = np.flatnonzero(assignment < 0)
    fig.add_scattergl(x=embedding[noise, 0], y=embedding[noise, 1], mode="markers",
                      name="noise", customdata=noise, hovertemplate="noise · index "
                      "%{customdata}<extra></extra>", marker=dict(size=3, color="#dddddd"))
    palette = [c for c in WIDE_PALETTE if c.lower() not in GREYS]
    n = int(assignment.max()) + 1 if len(assignment) else 0
    for k in range(n):
        members = np.flatnonzero(assignment == k)
        fig.add_scattergl(x=embedding[members, 0], y=embedding[members, 1], mode="markers",
                          name=f"cluster {k + 1}", customdata=members,
                          hovertemplate=f"cluster {k + 1} · index %{{customdata}}<extra></extra>",
                          showlegend=None if n <= LEGEND_MAX else False,
                          marker=dict(size=4, color=palette[k % len(palette)]))
    return _finish(fig, "Clusters (light grey: noise)")


GREYS = {"#222a2a", "#778aae", "#6e899c", "#c9fbe5", "#fed4c4"}  # WIDE_PALETTE's near-greys
TRUST_COLOURS = ["#d73027", "#fc8d59", "#fee090", "#91bfdb", "#4575b4"]
ERROR_COLOURS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]


def _frame_groups(labels: np.ndarray, label_names: list[str], colouring: Colouring,
                  frame_values: np.ndarray | None, frames: int):
    """(names, colours, group [S, N]) for an animation: every colouring as a few single-colour
    traces, because a colour per point is redrawn at every frame (half the frame rate)."""
    if colouring.kind == "label":
        groups = class_groups(labels, label_names)
        group = np.empty(len(labels), int)
        for g, (_, members, _) in enumerate(groups):
            group[members] = g
        return [g[0] for g in groups], [g[2] for g in groups], \
            np.broadcast_to(group, (frames, len(labels)))
    if colouring.kind == "correct":
        group = np.broadcast_to(np.where(colouring.values, 0, 1), (frames, len(labels)))
        return ["right", "wrong"], ["#9ecae1", "#d62728"], group
    if colouring.kind == "trust":
        values = frame_values if frame_values is not None else \
            np.broadcast_to(colouring.values, (frames, len(labels)))
        group = np.minimum((values * 5).astype(int), 4)
        return ([f"{20 * g}-{20 * g + 20} % kept" for g in range(5)], TRUST_COLOURS, group)
    edges = np.quantile(colouring.values, [0.2, 0.4, 0.6, 0.8])
    group = np.broadcast_to(np.searchsorted(edges, colouring.values), (frames, len(labels)))
    bounds = [colouring.values.min(), *edges, colouring.values.max()]
    return ([f"error {bounds[g]:.3f}-{bounds[g + 1]:.3f}" for g in range(5)], ERROR_COLOURS,
            group)


def training_figure(embeddings: np.ndarray, epochs: list[float], labels: np.ndarray,
                    label_names: list[str], colouring: Colouring = Colouring(),
                    frame_values: np.ndarray | None = None, title: str = "") -> go.Figure:
    """The map at every snapshot [S, N, 2] as animation frames, with an epoch slider and
    Play; it opens on the first snapshot. frame_values [S, N] colour each frame on its own
    (trust), else `colouring` holds for every frame."""
    names, colours, group = _frame_groups(labels, label_names, colouring, frame_values,
                                          len(epochs))
    label_text = np.asarray(label_names)[labels]

    def traces(s: int) -> list[go.Scattergl]:
        out = []
        for g, name in enumerate(names):
            idx = np.flatnonzero(group[s] == g)
            text = label_text[idx] if colouring.kind == "label" else \
                np.char.add(label_text[idx], f" · {name}")
            out.append(go.Scattergl(x=embeddings[s, idx, 0], y=embeddings[s, idx, 1],
                                    customdata=idx, text=text))
        return out

    fig = go.Figure(traces(0))
    fig.update_traces(mode="markers", hovertemplate=HOVER)
    for trace, name, colour in zip(fig.data, names, colours, strict=True):
        trace.update(name=name, marker=dict(size=4, color=colour))
    frames = [go.Frame(data=traces(s), name=f"{epoch:g}", traces=list(range(len(names))))
              for s, epoch in enumerate(epochs)]
    fig.frames = frames
    lo, hi = embeddings.min((0, 1)), embeddings.max((0, 1))
    pad = 0.05 * (hi - lo)
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]], autorange=False)
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]], autorange=False)
    fig = _finish(fig, title)
    fig.update_layout(height=520, margin=dict(b=90),
                      showlegend=colouring.kind != "label" or len(label_names) <= LEGEND_MAX,
                      legend=dict(orientation="v", x=1.0, y=1.0, xanchor="left"))
    if len(frames) > 1:
        _player(fig, frames)
    return fig


def _player(fig: go.Figure, frames: list[go.Frame]) -> None:
    """Play and Pause, and an epoch slider with a step per frame."""
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
        sliders=[dict(active=0, x=0.2, len=0.8, y=-0.02, yanchor="top",
                      currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=f.name, method="animate", args=[[f.name], step])
                             for f in frames])])
