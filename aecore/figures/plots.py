"""Pure functions that return Plotly figures and image arrays: testable without a browser."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
WIDE_PALETTE = [*qualitative.Dark24, *qualitative.Light24]  # beyond ten classes
LEGEND_MAX = 50       # classes a legend lists (EMNIST Balanced's 47); beyond, colours repeat
CONFUSION_MAX = 30    # classes a confusion matrix shows: the most confused ones beyond that
ANNOTATED_MAX = 20    # cells carry their count up to this many classes a side
BARS_MAX = 50         # per-class bars: the worst ones beyond that


def class_colours(n: int) -> list[str]:
    """A colour per class: MNIST's ten as ever, up to 48 distinct ones, then repeated."""
    palette = PALETTE if n <= len(PALETTE) else WIDE_PALETTE
    return [palette[c % len(palette)] for c in range(n)]


def layout(fig: go.Figure, title: str = "", height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      template="plotly_white", legend=dict(orientation="h", y=-0.15))
    return fig


def ema(steps: np.ndarray, values: np.ndarray, span: float) -> np.ndarray:
    """Exponential moving average with a time constant of `span` steps: the batch loss is
    noisy, its trend is what a person reads. Measured in steps, not points, so that a curve
    thinned to fewer points (a long run, a live chart) lags no more than a dense one."""
    out = np.empty(len(values))
    acc, last = (values[0], steps[0]) if len(values) else (0.0, 0.0)
    for i, (s, v) in enumerate(zip(steps, values, strict=True)):
        alpha = 1.0 - np.exp(-max(s - last, 1.0) / span)
        acc, last = alpha * v + (1 - alpha) * acc, s
        out[i] = acc
    return out


def decimate(steps: list[float], values: list[float], limit: int = 2_000
             ) -> tuple[np.ndarray, np.ndarray]:
    """At most about `limit` points, each the mean of a block: long runs stay light to draw."""
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    block = max(1, int(np.ceil(len(values) / limit)))
    if block == 1:
        return steps, values
    usable = len(values) // block * block
    return (steps[:usable].reshape(-1, block).mean(1),
            values[:usable].reshape(-1, block).mean(1))


LOSS_POINTS = 400  # per line: more than a chart's width shows, cheap to resend every second
SMOOTHING_EPOCHS = 0.05  # the smoothed batch loss's time constant


def loss_figure(batch_steps: list[float], batch_losses: list[float], epochs: list[dict],
                steps_per_epoch: int, batch_kl: list[float] = ()) -> go.Figure:
    """Smoothed batch loss and train/test loss per epoch, against epochs. A VAE's figure
    (batch_kl given, or KL in its epochs) has a second panel for the KL term below."""
    variational = len(batch_kl) > 0 or any(e.get("kl") is not None for e in epochs)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.6, 0.4]) if variational else go.Figure()
    top = dict(row=1, col=1) if variational else {}
    batch_name = "batch loss (BCE + β·KL/pixels)" if variational else "batch loss"
    _batch_lines(fig, batch_steps, batch_losses, steps_per_epoch, batch_name, top)
    if epochs:
        ep = [e["epoch"] for e in epochs]
        # The train loss is the mean over an epoch's batches: drawn at the epoch's middle.
        fig.add_scatter(x=[e - 0.5 for e in ep], y=[e["train_loss"] for e in epochs],
                        mode="lines+markers", name="train BCE (epoch mean)",
                        line=dict(color="#ff7f0e"), **top)
        fig.add_scatter(x=ep, y=[e["test_loss"] for e in epochs], mode="lines+markers",
                        name="test BCE (end of epoch)", line=dict(color="#2ca02c"), **top)
    if variational:
        kl = dict(row=2, col=1)
        _batch_lines(fig, batch_steps[:len(batch_kl)], batch_kl, steps_per_epoch, "batch KL", kl)
        if epochs:
            fig.add_scatter(x=ep, y=[e["test_kl"] for e in epochs], mode="lines+markers",
                            name="test KL (end of epoch)", line=dict(color="#9467bd"), **kl)
        fig.update_yaxes(title="KL, nats per image", **kl)
        fig.update_xaxes(title="epoch", rangemode="tozero", **kl)
    else:
        fig.update_xaxes(title="epoch", rangemode="tozero")
    fig.update_yaxes(title="binary cross-entropy per pixel", type="log", **top)
    if not len(batch_losses) and not epochs:  # no made-up axis range before the first batch
        fig.update_xaxes(range=[0, 1], showticklabels=False)
        fig.update_yaxes(type="linear", showticklabels=False)
        fig.add_annotation(text="waiting for the first batches ...", showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper")
    return layout(fig, "Loss", height=520 if variational else 360)


def _batch_lines(fig: go.Figure, batch_steps, values, steps_per_epoch: int, name: str,
                 where: dict) -> None:
    """A noisy batch curve in grey and its smoothed trend."""
    if not len(values):
        return
    steps, values = decimate(batch_steps, values, LOSS_POINTS)
    x = steps / steps_per_epoch
    fig.add_scatter(x=x, y=values, mode="lines", name=name, line=dict(color="#c7c7c7", width=1),
                    **where)
    smooth = ema(steps, values, SMOOTHING_EPOCHS * steps_per_epoch)
    fig.add_scatter(x=x, y=smooth, mode="lines", name=f"{name} (smoothed)",
                    line=dict(color="#1f77b4", width=2), **where)


def probability_bars(probabilities: list[float], label_names: list[str]) -> go.Figure:
    """Every class's probability, or the ANNOTATED_MAX likeliest ones of more."""
    order = np.argsort(probabilities)[::-1][:ANNOTATED_MAX]
    if len(probabilities) <= ANNOTATED_MAX:
        order = np.sort(order)
    best = int(np.argmax(probabilities))
    colours = [PALETTE[3] if i == best else PALETTE[0] for i in order]
    fig = go.Figure(go.Bar(x=[label_names[i] for i in order],
                           y=[probabilities[i] for i in order], marker_color=colours))
    fig.update_yaxes(range=[0, 1], title="probability")
    fig.update_xaxes(type="category")
    title = "Prediction" if len(order) == len(probabilities) else \
        f"Prediction: the {len(order)} likeliest of {len(probabilities)} classes"
    return layout(fig, title, height=280)


def accuracy_bars(report: dict, latent_dim: int) -> go.Figure:
    b = report["baselines"]
    names = [f"codes (k={latent_dim})", "raw pixels", f"PCA (k={latent_dim})"]
    values = [report["test_accuracy"], b["pixels"], b["pca"]]
    fig = go.Figure(go.Bar(x=names, y=values, text=[f"{v:.2%}" for v in values],
                           textposition="outside", marker_color=[PALETTE[0], "#aaa", "#777"]))
    fig.update_yaxes(range=[min(values) - 0.05, 1.0], title="test accuracy")
    return layout(fig, "Test accuracy against baselines (same head)", height=320)


def most_confused(confusion: np.ndarray, limit: int = CONFUSION_MAX) -> np.ndarray:
    """The classes, in their order, whose test images are most often mistaken or mistaken
    for: at most `limit` of them."""
    errors = confusion.sum(0) + confusion.sum(1) - 2 * np.diag(confusion)
    return np.sort(np.argsort(-errors, kind="stable")[:limit])


def confusion_heatmap(confusion: list[list[int]], label_names: list[str]) -> go.Figure:
    """The whole matrix up to CONFUSION_MAX classes; beyond, the most confused among them, so a
    thousand-class dataset's figure stays readable and small."""
    matrix = np.asarray(confusion)
    shown = most_confused(matrix)
    z, names = matrix[np.ix_(shown, shown)], [label_names[i] for i in shown]
    annotate = dict(text=z, texttemplate="%{text}") if len(shown) <= ANNOTATED_MAX else {}
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Blues", **annotate,
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_xaxes(title="predicted", type="category")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    title = "Confusion matrix (test set)" if len(shown) == len(matrix) else \
        f"Confusion among the {len(shown)} most confused of {len(matrix)} classes (test set)"
    return layout(fig, title, height=440)


def per_class_bars(per_class: list[float], label_names: list[str]) -> go.Figure:
    """Every class's accuracy, or the BARS_MAX worst of more."""
    shown = np.arange(len(per_class))
    if len(per_class) > BARS_MAX:
        shown = np.argsort(per_class, kind="stable")[:BARS_MAX]
    values = [per_class[i] for i in shown]
    fig = go.Figure(go.Bar(x=[label_names[i] for i in shown], y=values,
                           marker_color=PALETTE[0]))
    fig.update_yaxes(range=[min(values) - 0.05, 1.0], title="accuracy")
    fig.update_xaxes(type="category")
    title = "Per-class accuracy" if len(shown) == len(per_class) else \
        f"Per-class accuracy: the {len(shown)} worst of {len(per_class)} classes"
    return layout(fig, title, height=280)


def class_groups(labels: np.ndarray, label_names: list[str]) -> list[tuple]:
    """(name, indices, colour) per trace of a map coloured by label: a trace per class (the
    legend toggles it) up to LEGEND_MAX classes; beyond, a trace per colour, since hundreds of
    traces slow the browser, and the hover names each point's class."""
    colours = class_colours(len(label_names))
    if len(label_names) <= LEGEND_MAX:
        return [(name, np.flatnonzero(labels == c), colours[c])
                for c, name in enumerate(label_names)]
    bucket = labels % len(WIDE_PALETTE)
    return [(f"colour {b + 1}", np.flatnonzero(bucket == b), WIDE_PALETTE[b])
            for b in range(len(WIDE_PALETTE))]


def side_by_side(original: np.ndarray, reconstruction: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two [28, 28] images in [0, 1] -> one uint8 [28, 58] image with a grey gap (any size;
    colour [H, W, 3] too)."""
    sep = np.full((original.shape[0], gap, *original.shape[2:]), 0.5, dtype=np.float32)
    return to_uint8(np.hstack([original, sep, reconstruction]))


def strip(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """[N, 28, 28] in [0, 1] -> one uint8 row [28, N*28 + gaps] (colour [N, H, W, 3] too)."""
    sep = np.full((images.shape[1], gap, *images.shape[3:]), 0.5, dtype=np.float32)
    parts = []
    for i, img in enumerate(images):
        parts.extend([sep, img] if i else [img])
    return to_uint8(np.hstack(parts))


def class_samples(images: np.ndarray, labels: np.ndarray, per_class: int, n_classes: int,
                  seed: int = 0) -> list[np.ndarray]:
    """One strip per class: up to `per_class` of its uint8 images, picked seeded."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        chosen = np.sort(rng.choice(members, min(per_class, len(members)), replace=False))
        rows.append(strip(images[chosen] / 255.0) if len(chosen) else to_uint8(
            np.zeros((1, 1))))
    return rows


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def curve_figure(curves, height: int = 320) -> go.Figure:
    """A compare.CurveSet: one line per model over k (log 2 axis), a min-max band where
    several seeds ran, dashed baselines; hover names the runs."""
    fig = go.Figure()
    groups = list(dict.fromkeys(p.group for p in curves.points))
    for i, group in enumerate(groups):
        pts = [p for p in curves.points if p.group == group]
        ks = [p.latent_dim for p in pts]
        colour = PALETTE[i % len(PALETTE)]
        if any(p.high > p.low for p in pts):
            fig.add_scatter(x=ks + ks[::-1], y=[p.high for p in pts] + [p.low for p in pts][::-1],
                            fill="toself", fillcolor=colour, opacity=0.18, mode="none",
                            hoverinfo="skip", showlegend=False, legendgroup=group)
        fig.add_scatter(
            x=ks, y=[p.mean for p in pts], mode="lines+markers", name=group, legendgroup=group,
            line=dict(color=colour), customdata=[", ".join(p.run_ids) for p in pts],
            text=[f"{len(p.run_ids)} run{'s' * (len(p.run_ids) != 1)}" for p in pts],
            hovertemplate=f"{group}, k=%{{x}}: %{{y:.4f}} (%{{text}})<br>run %{{customdata}}"
                          "<extra></extra>")
    for j, (name, values) in enumerate(curves.baselines.items()):
        fig.add_scatter(x=[k for k, _ in values], y=[v for _, v in values], name=name,
                        mode="lines", line=dict(color="#555", dash="dash" if j else "dot"),
                        hovertemplate=f"{name}, k=%{{x}}: %{{y:.4f}}<extra></extra>")
    ticks = sorted({p.latent_dim for p in curves.points})
    fig.update_xaxes(type="log", title="latent size k", tickvals=ticks,
                     ticktext=[str(k) for k in ticks])
    if not curves.points:
        fig.add_annotation(text="no complete run has this yet", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    layout(fig, curves.title, height)
    fig.update_layout(legend=dict(orientation="h", y=-0.3))  # below the axis title
    return fig


def pair_map_figure(embedding: np.ndarray, labels: np.ndarray, label_names: list[str],
                    highlight: np.ndarray | None = None, title: str = "") -> go.Figure:
    """A map coloured by label like map_figure; with `highlight` (test indices) every other
    digit is grey, so a selection made on another map shows where those digits went."""
    fig = go.Figure()
    index = np.arange(len(embedding))
    names = np.asarray(label_names)[labels]
    hover = "%{text}<br>index %{customdata}<extra></extra>"
    lit = np.ones(len(embedding), bool)
    if highlight is not None:
        lit = np.zeros(len(embedding), bool)
        lit[highlight] = True
        fig.add_scattergl(x=embedding[~lit, 0], y=embedding[~lit, 1], mode="markers",
                          name="others", customdata=index[~lit], text=names[~lit],
                          hovertemplate=hover, marker=dict(size=3, color="#d9d9d9"))
    for name, members, colour in class_groups(labels, label_names):
        sel = np.zeros(len(embedding), bool)
        sel[members] = True
        sel &= lit
        fig.add_scattergl(x=embedding[sel, 0], y=embedding[sel, 1], mode="markers", name=name,
                          customdata=index[sel], text=names[sel], hovertemplate=hover,
                          showlegend=None if len(label_names) <= LEGEND_MAX else False,
                          marker=dict(size=4 if highlight is None else 6, color=colour))
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    return layout(fig, title, height=460)
