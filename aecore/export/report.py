"""One run as one self-contained HTML page: its config, loss curves, map, reconstructions and
classifier. plotly.js and every image are inlined, so it opens with the network off."""

from __future__ import annotations

import base64
import datetime
import html
import math

import numpy as np
import plotly.graph_objects as go

from aecore.core import metrics
from aecore.core.config import ProjectionConfig
from aecore.data import datasets
from aecore.figures import plots, tables
from aecore.figures.mapplots import map_figure
from aecore.runs import pipeline
from aecore.training import latents

PAIRS_PER_CLASS = 4
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left}h2{margin-top:2rem;border-bottom:1px solid #eee}.note{color:#666}
img.pairs{image-rendering:pixelated;width:100%;max-width:1000px}"""


def _table(rows: dict) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows.items())
    return f"<table>{cells}</table>"


class _Figures:
    """Each figure as a div; plotly.js is inlined once, with the first."""

    def __init__(self) -> None:
        self._first = True

    def __call__(self, fig: go.Figure) -> str:
        out = fig.to_html(full_html=False, include_plotlyjs=self._first,
                          config={"displaylogo": False, "responsive": True})
        self._first = False
        return out


def _metrics(run: pipeline.Run) -> dict:
    m = run.metrics
    rows = {"test BCE": metrics.text(m["test_loss"], ".4f"),
            "train BCE": metrics.text(m["train_loss"], ".4f"),
            "epochs trained": metrics.text(m["epochs_done"]),
            "seconds per epoch": f"{metrics.text(m['seconds_per_epoch'], '.2f')} on "
                                 f"{m['device'] or 'an unknown device'}"}
    if m.get("stopped"):
        rows["stopped"] = "yes: stopped before its last epoch"
    if (vae := pipeline.variational_stats(run)) is not None:
        rows |= {"test KL (nats per image)": f"{vae.kl:.1f}",
                 "active units": f"{vae.active_units} of {run.config.latent_dim}",
                 "−ELBO (nats per image)": f"{vae.negative_elbo:.1f}"}
    return rows


def _reconstructions(run: pipeline.Run, digits) -> str:
    chosen = np.concatenate([np.flatnonzero(digits.labels == c)[:PAIRS_PER_CLASS]
                             for c in range(len(digits.label_names))])
    images = digits.images[chosen].float() / 255.0
    recon = latents.decode(run.model, latents.encode(run.model, digits.images[chosen])).numpy()
    png = tables.pairs_png(images.numpy(), recon, columns=2 * PAIRS_PER_CLASS)
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    return (f'<p class="note">{PAIRS_PER_CLASS} test images of each class (rows of two '
            "classes), each beside its reconstruction.</p>"
            f'<img class="pairs" alt="test images and their reconstructions" src="{uri}">')


def _classifier(digits, k: int, train: int, figure: _Figures) -> str:
    r = digits.report
    if r is None:
        return ('<p class="note">No classifier was trained on this run\'s codes when this '
                "report was written (the Classifier page trains one; `aecore export --html` "
                "trains the linear head).</p>")
    b = r["baselines"]
    rows = {"head": digits.head, "test accuracy": f"{r['test_accuracy']:.2%}",
            "same head on raw pixels": f"{b['pixels']:.2%}",
            f"same head on PCA (k={k})": f"{b['pca']:.2%}"}
    if "canvas_accuracy" in r:
        rows["canvas-style digits"] = f"{r['canvas_accuracy']:.2%}"
    names = digits.label_names
    return (f'<p class="note">Trained on the {train:,} training codes, scored on the '
            f"{len(digits.images):,} test codes; the baselines are the same head on raw "
            "pixels and on PCA with the same k."
            f"</p>{_table(rows)}{figure(plots.accuracy_bars(r, k))}"
            f"{figure(plots.per_class_bars(r['per_class'], names))}"
            f"{figure(plots.confusion_heatmap(r['confusion'], names))}")


def report_html(run: pipeline.Run, digits, projection: ProjectionConfig | None = None) -> str:
    cfg, figure = run.config, _Figures()
    history = run.history
    steps_per_epoch = math.ceil(len(datasets.load(cfg.dataset).train_x) / cfg.batch_size)
    loss = plots.loss_figure(list(range(1, len(history.batch_loss) + 1)), history.batch_loss,
                             history.epochs, steps_per_epoch, history.batch_kl)
    projection = projection or ProjectionConfig()
    mapped = pipeline.embed(run, projection)
    method = projection.method.upper()
    names = digits.label_names
    title = (f"aecore run {run.run_id}: {cfg.model}, k={cfg.latent_dim}, {cfg.epochs} epochs"
             + (f", {cfg.variant}" if cfg.variant else ""))
    made = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">A report of the latent-space lab (aecore), written {made}. Everything it
shows is inside this one file.</p>
<h2>Config</h2>{_table(cfg.to_dict() | {"run id": run.run_id, "weights": run.weights_id})}
<h2>Training</h2>{_table(_metrics(run))}{figure(loss)}
<h2>The map</h2>
<p class="note">{method} of the {len(digits.labels):,} test codes (k={cfg.latent_dim}); 2-D 5-NN
label accuracy {metrics.text(mapped.knn_accuracy_2d, '.3f', 'not measured (no labels)')}.</p>
{figure(map_figure(mapped.map.embedding, digits.labels, names, title=f"{method} map"))}
<h2>Reconstructions</h2>{_reconstructions(run, digits)}
<h2>Classifier on the codes</h2>
{_classifier(digits, cfg.latent_dim, len(datasets.load(cfg.dataset).train_x), figure)}
</body></html>
"""
