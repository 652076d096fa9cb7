"""Compare: every run of the dataset in one table, curves over the latent size, a sweep that
fills them, and two runs' maps and neighbourhoods side by side."""

import numpy as np
import streamlit as st

from aecore.core.config import MODELS, model_label
from aecore.core.errors import AecoreError
from aecore.figures import plots, tables
from aecore.runs import compare, pipeline
from aecore.services import sweep
from dashboard import background, cached, derive, downloads, server, session, widgets

CHANGED_SHOWN = 24
st.title("Compare runs")
st.caption("How large must the code be? Sweep the latent size, then read the answer from the "
           "curves: each point is a run, trained once and reused.")
dataset = st.session_state.get("dataset", "mnist")


def sweep_form() -> None:
    with st.expander("Sweep latent sizes and models", expanded=not report.rows):
        c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
        dims = c1.multiselect("Latent sizes", [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96,
                                               128, 192, 256],
                              default=list(sweep.LATENT_DIMS), key="sweep_dims",
                              persist_state=session.KEEP)
        models = c2.multiselect("Models", MODELS, default=["dense"], key="sweep_models",
                                format_func=model_label,
                                persist_state=session.KEEP)
        epochs = c3.slider("Epochs", 1, 100, 10, key="sweep_epochs", persist_state=session.KEEP)
        seeds = c4.number_input("Seeds", 1, 10, 1, key="sweep_seeds", persist_state=session.KEEP)
        try:
            spec = sweep.SweepSpec(dataset, tuple(models), tuple(dims), epochs,
                                   tuple(range(int(seeds))))
        except AecoreError as exc:
            st.error(str(exc))
            return
        trained = {r.run_id for r in report.rows if r.complete}
        configs = spec.configs()
        fresh = sum(c.key() not in trained for c in configs)
        st.caption(f"{len(configs)} runs: {fresh} to train, {len(configs) - fresh} trained "
                   "already (reused). Each gets a linear and an MLP head and a UMAP map.")
        mine = shown_sweep()
        busy = mine is not None and is_own(mine) and not mine.finished
        if st.button("Sweep", type="primary", key="sweep_start", disabled=busy,
                     help="Your sweep is still running: cancel it or wait." if busy else None):
            st.session_state["own_sweep"] = server.start_sweep(spec).sweep_id
            st.rerun()


def own_sweep_id() -> str | None:
    """This session's sweep: only the session that started it may cancel it. Its id is also
    in the URL (`?sweep=`), which shares the view: a link, or a reload of the tab (a new
    session), watches it."""
    sweep_id = st.session_state.get("own_sweep")
    if sweep_id and st.query_params.get("sweep") != sweep_id:  # page links drop the query
        st.query_params["sweep"] = sweep_id
    return sweep_id


def is_own(tracker: sweep.Tracker) -> bool:
    return tracker.sweep_id == own_sweep_id()


def shown_sweep() -> sweep.Tracker | None:
    """This session's sweep of this dataset, else the one its link names, else one running
    on the server (to watch)."""
    all_sweeps = {i: t for i, t in list(server.sweeps().items()) if t.spec.dataset == dataset}
    for sweep_id in (own_sweep_id(), st.query_params.get("sweep")):
        if isinstance(sweep_id, str) and (shown := all_sweeps.get(sweep_id)) is not None:
            return shown
    running = [t for t in all_sweeps.values() if not t.finished]
    return running[-1] if running else None


def follow_sweep(tracker: sweep.Tracker) -> None:
    """Progress; the whole page reruns when a result lands, so the table and curves fill in."""
    background.watch(f"sweep-{tracker.sweep_id}", tracker.progress,
                     lambda p: None if p.finished else (p.runs_done, p.derived_left),
                     lambda p: sweep_status(tracker, p))


def sweep_status(tracker: sweep.Tracker, p: sweep.Progress) -> None:
    mine = is_own(tracker)
    work = p.runs_total * (1 + len(sweep.DERIVED))
    if p.cancelled:
        st.warning(f"Sweep cancelled: {p.text()}.")
    elif p.finished and p.errors:
        st.warning(f"Sweep ended with {len(p.errors)} failed: {p.text()}.")
    elif p.finished:
        st.success(f"Sweep done: {p.text()}.")
    else:
        st.progress(1 - (p.derived_left + p.runs_total - p.runs_done) / work,
                    text=f"Sweep{'' if mine else ' (another session’s)'}: {p.text()}")
        if mine and st.button("Cancel", key="sweep_cancel"):
            tracker.cancel()
            st.rerun()
    for error in p.errors:
        st.error(f"Sweep: {error}")


def select_run(key: str, run_ids: list[str]) -> None:
    """A row picked in the table becomes the active run."""
    rows = st.session_state[key].selection.rows
    if rows:
        st.session_state["activate_run"] = run_ids[rows[0]]
        session.picked_run()


def table() -> None:
    st.subheader(f"{len(report.rows)} runs of {dataset}")
    frame = compare.frame(report.rows)
    run_ids = list(frame["run_id"])
    # Keyed by the rows shown: a selection is a row position, which would point at another
    # run once a new run lands on top of the table.
    key = f"compare_table_{hash((dataset, *run_ids)) & 0xFFFFFFFF:x}"
    number = st.column_config.NumberColumn
    st.dataframe(frame, key=key, hide_index=True, on_select=lambda: select_run(key, run_ids),
                 selection_mode="single-row", column_config={
            "test_loss": number("test BCE", format="%.4f"),
            "linear_accuracy": number("linear acc.", format="%.4f"),
            "mlp_accuracy": number("MLP acc.", format="%.4f"),
            "knn_accuracy_2d": number("map 5-NN", format="%.4f"),
            "seconds_per_epoch": number("s / epoch", format="%.2f")})
    st.caption("Select a row to make that run active. Empty cells were not computed yet "
               "(a sweep computes them; so do the Classifier and Explore pages).")
    downloads.button("The table (CSV)", tables.csv_text(frame), f"runs-{dataset}.csv",
                     downloads.CSV, "compare_csv")


def curves() -> None:
    st.subheader("Curves over the latent size")
    sets = compare.curve_sets(report)
    for left, right in zip(sets[::2], sets[1::2], strict=True):
        c1, c2 = st.columns(2)
        c1.plotly_chart(plots.curve_figure(left), key=f"curve_{left.metric}")
        c2.plotly_chart(plots.curve_figure(right), key=f"curve_{right.metric}")
    st.caption("One line per model and length; with several seeds, the mean and a band from "
               "the lowest to the highest. Stopped runs are left out.")


def label(row: compare.Row) -> str:
    return (f"{row.model} · k={row.latent_dim} · {row.epochs} ep · seed {row.seed} · "
            f"{row.run_id[:6]}")


def selected(key: str) -> np.ndarray | None:
    event = st.session_state.get(key)
    points = event.selection.points if event and event.selection else []
    chosen = [int(p["customdata"]) for p in points if p.get("customdata") is not None]
    return np.array(chosen, dtype=int) if chosen else None


def pair() -> None:
    st.subheader("Two runs side by side")
    labels = {r.run_id: label(r) for r in report.rows}
    ids = list(labels)
    for key, fallback in (("pair_a", ids[0]), ("pair_b", ids[1])):
        kept = st.session_state.get(key)
        if kept not in labels:  # a run that is gone (or of another dataset): say so, move on
            if kept is not None and pipeline.weights_id(kept) is None:
                st.info(f"Run {kept[:6]} is no longer stored: showing another run instead.")
            st.session_state[key] = fallback
    c1, c2 = st.columns(2)
    a_id = c1.selectbox("Run A", ids, format_func=labels.get, key="pair_a",
                        persist_state=session.KEEP)
    b_id = c2.selectbox("Run B", ids, format_func=labels.get, key="pair_b",
                        persist_state=session.KEEP)
    if a_id == b_id:
        st.info("Pick two different runs to compare them.")
        return
    a, b = cached.run(a_id), cached.run(b_id)
    test = cached.test_set(a)
    map_a, map_b = derive.current_map(a), derive.current_map(b)
    emb_a = map_a.result.map.embedding
    emb_b = compare.align(emb_a, map_b.result.map.embedding)
    sel_a, sel_b = selected("pair_map_a"), selected("pair_map_b")
    for column, shown, emb, key, lit in ((c1, map_a, emb_a, "pair_map_a", sel_b),
                                         (c2, map_b, emb_b, "pair_map_b", sel_a)):
        kind = "UMAP" if shown.final else "PCA (UMAP is fitting)"
        column.plotly_chart(plots.pair_map_figure(emb, test.labels, test.names, lit, kind),
                            key=key, on_select="rerun", selection_mode=("box", "lasso"))
    many = test.data.nouns.many
    st.caption("B's map is rotated, mirrored and scaled onto A's (Procrustes on the same test "
               f"{many}). Lasso {many} on one map to light them up on the other.")
    change = cached.neighbour_change(a, b)
    worst = change.changed_most[:CHANGED_SHOWN]
    st.markdown(f"**{many.capitalize()} whose neighbourhoods changed most.** On average "
                f"{test.data.nouns.with_article} keeps "
                f"{change.mean:.0%} of its {compare.NEIGHBOURS} nearest neighbours in code "
                "space from A to B; these keep the fewest.")
    k = compare.NEIGHBOURS
    widgets.digits_grid(test.images[worst], [
        f"#{i} · {test.names[test.labels[i]]} · {round(change.overlap[i] * k)}/{k}"
        for i in worst])


with widgets.errors_shown():
    report = cached.compare_report(dataset)
    sweep_form()
    if (tracker := shown_sweep()) is not None:
        if tracker.finished:  # nothing more will land: no polling
            sweep_status(tracker, tracker.progress())
        else:
            follow_sweep(tracker)
    if not report.rows:
        st.info("No runs of this dataset yet: start a sweep above, or train on the Train page.")
        st.stop()
    table()
    curves()
    if len(report.rows) >= 2:
        pair()
    else:
        st.caption("Train a second run to compare two runs side by side.")
