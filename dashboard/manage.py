"""The sidebar's care of the cache: its size, and deleting the active run (with its own
confirmation: a class shares one cache)."""

from __future__ import annotations

import streamlit as st

from aecore.core.errors import AecoreError
from aecore.runs import pipeline, store
from dashboard import session, widgets


@st.cache_data(ttl=60, max_entries=2, show_spinner=False)
def _cache_size(generation: int) -> str:
    return store.size_text(store.cache_bytes())


def cache_size() -> None:
    st.caption(f"Cache: {_cache_size(store.runs_generation())} on disk "
               "(`aecore runs --size` lists each run's)")


def delete_button(run: pipeline.Run | None) -> None:
    """Delete the active run, once its id is confirmed; every session then picks another."""
    if run is None:
        return
    with st.expander("Delete this run", icon=":material/delete:"):
        st.caption(f"Run {run.run_id}: its weights, maps and heads are removed for every "
                   "session of this server. Training its config again makes it anew.")
        sure = st.checkbox(f"Yes, delete run {run.run_id}", key=f"confirm_delete_{run.run_id}")
        if st.button("Delete", key="delete_run", disabled=not sure, type="primary"):
            try:
                freed = pipeline.remove_run(run.run_id)
            except AecoreError as exc:
                st.error(widgets.message(exc))
                return
            session.note(f"Run {run.run_id} was deleted ({store.size_text(freed)} freed).")
            st.session_state.pop("run_id", None)
            st.rerun()
