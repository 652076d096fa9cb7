"""Download buttons where a person looks for them. Heavy files are made on the click
(Streamlit calls `data` then, in another thread), from what the page already holds."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from aecore import export, lab, store, tables
from aecore.config import ProjectionConfig
from aecore.errors import AecoreError
from dashboard import state

CSV, PNG, JSON = "text/csv", "image/png", "application/json"


def button(label: str, data: Callable[[], bytes | str] | bytes | str, file_name: str,
           mime: str, key: str) -> None:
    st.download_button(label, data, file_name=file_name, mime=mime, key=key,
                       on_click="ignore", icon=":material/download:")


def _weights(run: lab.Run) -> Callable[[], bytes]:
    """From the loaded model, so a run deleted under the page still downloads."""
    return lambda: store.tensor_bytes(run.model.state_dict())


def _report(run: lab.Run) -> Callable[[], str]:
    """The HTML report from what is stored: the UMAP map when it was fitted (else PCA, made
    in a blink), the MLP or linear head when one was trained (else the report says so)."""
    umap = ProjectionConfig()
    projection = umap if lab.is_valid(lab.map_folder(run, umap)) else ProjectionConfig("pca")
    return lambda: export.html(run, export.test_digits(run, train_head=False), projection)


def run_files(run: lab.Run | None) -> None:
    """The sidebar's: the active run's weights, config and HTML report."""
    if run is None:
        return
    with st.expander("Download this run", icon=":material/download:"):
        name = f"aecore-{run.run_id}"
        button("Weights (safetensors)", _weights(run), f"{name}.safetensors",
               "application/octet-stream", "dl_weights")
        config = json.dumps({"run_id": run.run_id, **run.config.to_dict()}, indent=2)
        button("Config (JSON)", config, f"{name}-config.json", JSON, "dl_config")
        button("Report (one HTML file)", safe(_report(run)), f"{name}-report.html", "text/html",
               "dl_report")
        st.caption("The report holds the config, loss curves, map, reconstructions and the "
                   "classifier, and opens offline. `aecore export` also writes a TensorBoard "
                   "projector bundle and ONNX models.")


def map_table(run: lab.Run, embedding: np.ndarray, labels: np.ndarray, errors: np.ndarray,
              codes, trust: np.ndarray | None) -> pd.DataFrame:
    """The map's table, with the stored head's predictions when a head was trained."""
    head = state.stored_head(run)
    predictions = head.head.probabilities(codes).argmax(1).numpy() if head else None
    return tables.map_table(embedding, labels, state.test_set(run).names, errors, predictions,
                            trust)


def safe(make: Callable[[], object]) -> Callable[[], object]:
    """A file made on the click: an engine error becomes the file's one line of text (the
    page has moved on by then, so it cannot show an error box)."""
    def call():
        try:
            return make()
        except AecoreError as exc:
            return f"aecore: error: {exc}\n"
    return call
