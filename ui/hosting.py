"""The host's settings as the app applies them: read once per process (Streamlit's secrets and the
environment), problems shown at start-up, and each session's model access decided from its connection."""

from __future__ import annotations

import logging

import streamlit as st

from core.hosting.model_access import ModelAccess, access_for
from core.hosting.settings import HostSettings, SettingsError, current_settings

from . import memory_budget

_LOG = logging.getLogger("embedding_explorer.hosting")
_PROBLEM: list[str] = []  # the settings' current problem, if any
_DEFAULTS = HostSettings(source="defaults, because the settings have problems")


def _secrets_table() -> tuple[dict, str] | None:
    """The [explorer] table of st.secrets (Community Cloud's secrets box, or a secrets.toml), if any."""
    try:
        table = st.secrets.get("explorer")
    except Exception:  # noqa: BLE001 - no secrets file at all is the usual case
        return None
    return (dict(table), "secrets.toml") if table is not None else None


def host_settings() -> HostSettings:
    """The process's settings (cheap: read again only when they change). With problems (a typo, a bad
    value) the defaults apply, the server log says why once, and the sidebar says why on every page."""
    found = _secrets_table()
    try:
        settings = current_settings(*found) if found else current_settings()
    except SettingsError as error:
        if str(error) not in _PROBLEM:
            _LOG.error("%s", error)
        _PROBLEM[:] = [str(error)]
        return _DEFAULTS
    _PROBLEM.clear()
    return settings


def settings_problem() -> str | None:
    host_settings()
    return _PROBLEM[0] if _PROBLEM else None


memory_budget.SERVER.set_limit(lambda: host_settings().memory_budget_mb * 2**20)


def session_is_visitor() -> bool:
    """A visitor: anyone on a hosted server, and anyone connected from another machine. Streamlit reports
    no address for a loopback connection (the TCP peer; forwarded headers count only from a proxy on this
    machine, which is why a host behind one sets ``hosted``)."""
    if host_settings().is_hosted():
        return True
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - outside a session (bare mode): the machine's own user
        return False
    return isinstance(address, str)  # a real server gives a string or None; AppTest's stand-in runtime neither


def model_access() -> ModelAccess:
    return access_for(host_settings(), visitor=session_is_visitor())


def memory_notice() -> None:
    """Tell the visitor when this run computed something again because the server's memory budget had
    dropped it (the answer is the same; it only took longer)."""
    again = sorted(set(memory_budget.take_recomputed()))
    if again:
        st.caption(f"Computed again: {', '.join(again)}. This server keeps at most "
                   f"{host_settings().memory_budget_mb:,} MB of results for all its visitors and had made room for newer ones.")
