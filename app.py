"""The latent-space lab: page config, the shared sidebar, and the navigation."""

# pandas is imported before any background thread starts: plotly looks it up lazily, and a
# pandas half-imported by a map or head thread broke a figure (AttributeError: Series).
import pandas  # noqa: F401
import streamlit as st

from aecore.core import metrics
from aecore.core.config import TrainConfig
from aecore.core.errors import AecoreError
from aecore.data import datasets
from dashboard import cached, downloads, links, manage, server, session

st.set_page_config(page_title="Latent-space lab", page_icon=":material/scatter_plot:",
                   layout="wide")
server.startup()
session.settle_own_trainings()

def run_label(row: dict) -> str:
    c, m = row["config"], row["metrics"]
    stopped = f" · stopped at {metrics.text(m['epochs_done'])}" if m["stopped"] else ""
    variant = TrainConfig.from_dict(c).variant
    return (f"{c['model']} · k={c['latent_dim']} · {c['epochs']} ep"
            f"{f' · {variant}' if variant else ''} · BCE {metrics.text(m['test_loss'], '.4f')}"
            f"{stopped} · {row['run_id'][:6]}")


pages = [
    st.Page("views/train.py", title="Train", icon=":material/model_training:", default=True,
            url_path="home"),
    st.Page("views/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("views/reconstruct.py", title="Reconstructions", icon=":material/compare:"),
    st.Page("views/classify.py", title="Classifier", icon=":material/category:"),
    st.Page("views/compare.py", title="Compare", icon=":material/stacked_line_chart:"),
    st.Page("views/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("views/quality.py", title="Data quality", icon=":material/rule:",
            url_path="quality"),
    st.Page("views/data.py", title="Data", icon=":material/folder_open:"),
]

dataset_names = datasets.offered()
unknown_run = links.read_once(dataset_names, cached.runs_listing())
if (added := st.session_state.pop("activate_dataset", None)) in dataset_names:
    st.session_state["dataset"] = added
elif st.session_state.get("dataset") not in dataset_names:  # removed meanwhile
    st.session_state["dataset"] = "mnist"

with st.sidebar:
    menu = st.container()
    st.divider()
    dataset = st.selectbox("Dataset", dataset_names, key="dataset", format_func=datasets.label)
    rows = [r for r in cached.runs_listing() if r["config"]["dataset"] == dataset]
    labels = {r["run_id"]: run_label(r) for r in rows}
    pending = st.session_state.pop("activate_run", None)
    if pending in labels:
        st.session_state["run_id"] = pending
    elif (gone := st.session_state.get("run_id")) not in labels:
        if gone and gone not in {r["run_id"] for r in cached.runs_listing()}:
            session.note(f"Run {gone} is no longer stored, so "
                         + ("the newest run is active now." if rows else "no run is active."))
        st.session_state["run_id"] = rows[0]["run_id"] if rows else None
    if rows:
        st.selectbox("Active run (newest first)", list(labels), format_func=labels.get,
                     key="run_id", on_change=session.picked_run)
    else:
        st.caption("No trained run for this dataset yet.")
    try:
        classes = datasets.classes(dataset)
        about = f"{len(classes)} classes" if classes else "no labels"
    except AecoreError:  # a damaged added dataset: the Data page says why and removes it
        about = "damaged: see the Data page"
    st.caption(f"Device: **{server.device_name()}** · {about}")

# Train is served at the root, and at /train, the path its title suggests (a default page's
# own path is reserved, so the root's is another name).
train_alias = st.Page("views/train.py", title="Train", url_path="train")
page = st.navigation([*pages, train_alias], position="hidden")
with menu:
    links.page_links(pages)
if unknown_run and page.url_path:  # a link to a run this server lacks opens Train
    st.switch_page(pages[0])
links.write(explore=page.url_path == "explore")
session.show_note()
with st.sidebar:
    downloads.run_files(session.active_run())
    manage.delete_button(session.active_run())
    manage.cache_size()
page.run()
