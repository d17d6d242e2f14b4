import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled():
    from core import load_model

    return load_model()


@pytest.fixture(autouse=True)
def _apptest_uses_st_navigation(monkeypatch):
    """AppTest resets PagesManager.uses_pages_directory before every run, and with a pages/
    folder beside app.py it then runs the legacy MPA v1 path, which drops the sidebar on
    reruns (streamlit issue 9446 / PR 14217 fixed the first run only). The real server sets the
    flag to False as soon as st.navigation runs; do the same here."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def _host_settings_read_afresh():
    """Host settings are read once per process; a test that sets EXPLORER_* or a secrets file must not
    leave them behind for the next test."""
    from core.hosting import settings

    settings.reset()
    yield
    settings.reset()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tiny models (a shared 2-core machine), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
