"""The view in the URL, so a link reopens it: the page is the path, and the query holds the
dataset, the active run and, on Explore, the map, its colouring and the selected digits.

A session reads its link once, on its first run; from then on its choices write the URL
(Streamlit clears the query on every page switch, so every run writes it again).
"""

from __future__ import annotations

import streamlit as st

from aecore.figures.mapplots import COLOURINGS
from aecore.runs import store
from dashboard import mapview, session

DATASET, RUN, MAP, COLOUR, DIGITS = "dataset", "run", "map", "colour", "digits"
UNCONFIRMED_MAP = "map_from_link"  # session key: a link asked for a map nobody clicked for
MAX_LINKED_DIGITS = 1_000  # a URL stays a URL: longer selections keep their first 1,000
# Bounds checked before any conversion: an index has at most 6 digits (an added dataset holds
# at most 250,000 images), and a link's selection at most MAX_LINKED_DIGITS of them with their
# commas.
MAX_INDEX_CHARS = 6
MAX_DIGITS_TEXT = MAX_LINKED_DIGITS * (MAX_INDEX_CHARS + 2)
# Query strings (page arguments) a person pastes: only the first value of a repeated key is
# read, and only when it is short.
MAX_VALUE_CHARS = 64


def parse_digits(text) -> list[int]:
    """"3,17,256" -> [3, 17, 256]: anything but a non-negative integer of at most 6 ASCII
    digits is dropped ("²" is a digit to str.isdigit), and so is a repeat; a text longer
    than a link's selection can be is read no further than that."""
    if not isinstance(text, str):
        return []
    found = (t.strip() for t in text[:MAX_DIGITS_TEXT].split(","))
    numbers = [int(t) for t in found
               if 0 < len(t) <= MAX_INDEX_CHARS and t.isascii() and t.isdecimal()]
    return list(dict.fromkeys(numbers))[:MAX_LINKED_DIGITS]


def _value(key: str) -> str | None:
    """The query's value for key if it is a short string (anything else reads as absent)."""
    value = st.query_params.get(key)
    return value if isinstance(value, str) and len(value) <= MAX_VALUE_CHARS else None


def read_once(datasets: list[str], runs: list[dict]) -> str | None:
    """On the session's first run, the link's choices become its own. Returns the run id the
    link names when this server does not store it (the caller says so and opens Train)."""
    if st.session_state.get("link_read"):
        return None
    st.session_state["link_read"] = True
    if (dataset := _value(DATASET)) in datasets:
        st.session_state["dataset"] = dataset
    if (colour := _value(COLOUR)) in COLOURINGS:
        st.session_state["colour"] = colour
    if (kind := _value(MAP)) in mapview.KINDS:
        st.session_state["map_kind"] = kind
        # the map of all 70,000 images costs a minute of the server: fitted on a click only
        st.session_state[UNCONFIRMED_MAP] = kind == "all"
    if digits := parse_digits(st.query_params.get(DIGITS, "")):
        st.session_state["selected_digits"] = digits
    if not (run_id := st.query_params.get(RUN)):
        return None
    stored = {r["run_id"]: r for r in runs}
    if run_id not in stored:
        # Only a well-formed id is repeated on the page (and as plain text: see session.note)
        named = f"run {run_id}" if store.is_run_id(run_id) else "a run"
        session.note(f"This link names {named}, which this server does not store (deleted, "
                     "or trained elsewhere): train it here, or pick a stored run in the "
                     "sidebar.")
        return run_id
    st.session_state["dataset"] = stored[run_id]["config"]["dataset"]
    st.session_state["activate_run"] = run_id
    return None


def selected_digits() -> list[int]:
    return st.session_state.get("selected_digits", [])


def select_digits(digits: list[int]) -> None:
    st.session_state["selected_digits"] = digits
    write_digits()


def write_digits() -> None:
    digits = selected_digits()[:MAX_LINKED_DIGITS]
    if digits:
        st.query_params[DIGITS] = ",".join(map(str, digits))
    elif DIGITS in st.query_params:
        del st.query_params[DIGITS]


def view(explore: bool) -> dict[str, str]:
    """The session's view as query parameters (Explore's own only for Explore)."""
    state = st.session_state
    want = {DATASET: state.get("dataset"), RUN: state.get("run_id")}
    if explore:
        want |= {MAP: state.get("map_kind"), COLOUR: state.get("colour")}
        if digits := selected_digits()[:MAX_LINKED_DIGITS]:
            want[DIGITS] = ",".join(map(str, digits))
    return {k: v for k, v in want.items() if v}


def write(explore: bool) -> None:
    """The session's view into the URL: only what changed, so the URL does not flicker, and
    only these keys, so a page's own (Compare's `sweep`) stay. Each change is a step in the
    browser's history: the page links carry the view, so a page switch is one step."""
    want = view(explore)
    now = st.query_params.to_dict()
    for key in (DATASET, RUN, MAP, COLOUR, DIGITS):
        if key not in want and key in now:
            del st.query_params[key]
        elif key in want and now.get(key) != want[key]:
            st.query_params[key] = want[key]


def page_links(pages: list) -> None:
    """The navigation, as links that carry the view (Streamlit's own menu drops the query,
    so every page switch took two steps of the browser's Back)."""
    for page in pages:
        st.page_link(page, query_params=view(explore=page.url_path == "explore"))
