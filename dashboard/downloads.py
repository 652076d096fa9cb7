"""Download buttons where a person looks for them. Heavy files are made on the click
(Streamlit calls `data` then, in another thread), from what the page already holds."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from aecore.core.config import ProjectionConfig
from aecore.core.errors import AecoreError
from aecore.export import writers
from aecore.figures import tables
from aecore.runs import pipeline, store
from dashboard import cached, widgets

CSV, PNG, JSON = "text/csv", "image/png", "application/json"


def button(label: str, data: Callable[[], bytes | str] | bytes | str, file_name: str,
           mime: str, key: str) -> None:
    st.download_button(label, data, file_name=file_name, mime=mime, key=key,
                       on_click="ignore", icon=":material/download:")


def _weights(run: pipeline.Run) -> Callable[[], bytes]:
    """From the loaded model, so a run deleted under the page still downloads."""
    return lambda: store.tensor_bytes(run.model.state_dict())


def _report(run: pipeline.Run) -> Callable[[], str]:
    """The HTML report from what is stored: the UMAP map when it was fitted (else PCA, made
    in a blink), the MLP or linear head when one was trained (else the report says so)."""
    umap = ProjectionConfig()
    stored = pipeline.is_valid(pipeline.map_folder(run, umap))
    projection = umap if stored else ProjectionConfig("pca")
    return lambda: writers.html(run, writers.test_digits(run, train_head=False), projection)


def run_files(run: pipeline.Run | None) -> None:
    """The sidebar's: the active run's weights, config and HTML report."""
    if run is None:
        return
    with st.expander("Download this run", icon=":material/download:"):
        name = f"aecore-{run.run_id}"
        button("Weights (safetensors)", _weights(run), f"{name}.safetensors",
               "application/octet-stream", "dl_weights")
        config = json.dumps({"run_id": run.run_id, **run.config.to_dict()}, indent=2)
        button("Config (JSON)", config, f"{name}-config.json", JSON, "dl_config")
        button("Report (one HTML file)", safe(_report(run), "dl_report"), f"{name}-report.html",
               "text/html", "dl_report")
        st.caption("The report holds the config, loss curves, map, reconstructions and the "
                   "classifier, and opens offline. `aecore export` also writes a TensorBoard "
                   "projector bundle and ONNX models.")


def map_table(run: pipeline.Run, embedding: np.ndarray, labels: np.ndarray, errors: np.ndarray,
              predictions: np.ndarray | None, trust: np.ndarray | None) -> pd.DataFrame:
    """The map's table, with the stored head's predictions when a head was trained."""
    return tables.map_table(embedding, labels, cached.test_set(run).names, errors, predictions,
                            trust)


class DownloadFailed(Exception):
    """What the browser shows beside the button ("Failed to generate file for download"):
    the reason, without the server's paths, shows on the page's next run."""


def safe(make: Callable[[], object], key: str) -> Callable[[], object]:
    """A file made on the click, in Streamlit's thread (the page has moved on by then): an
    engine error is never saved as the file; its reason is kept for the page to show."""
    failed = st.session_state.setdefault("downloads_failed", {})
    if reason := failed.pop(key, None):
        st.error(widgets.plain(f"The last download failed: {reason}"))

    def call():
        try:
            return make()
        except AecoreError as exc:
            failed[key] = widgets.without_paths(str(exc))
            raise DownloadFailed(key) from None
    return call
