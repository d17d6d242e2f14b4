"""The host decides what loads: settings (typos reported), and what a visitor of a hosted server can load,
by the model field and by a link, told in words that say nothing about the server's disk."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.hosting.model_access import ModelNotOffered, access_for, check_model_request
from core.hosting.settings import HostSettings, SettingsError, parse_settings
from core.models.bundled import BUNDLED_MODEL_ID, bundled_model_dir

from ui.labels import md_escape

from .apptest_pages import APP

BUNDLED_PARENT = str(bundled_model_dir().parent)
REFUSED = ["/", "/etc", "/root", "/nonexistent", BUNDLED_PARENT, "someone/unlisted-model", "../../etc", "~"]


def test_settings_from_secrets_and_environment():
    settings = parse_settings({"models": ["a/b", "c/d"], "visitor_hub_ids": True, "max_sentences": 500},
                              {"EXPLORER_HOSTED": "yes", "EXPLORER_MAX_SENTENCES": "300", "EXPLORER_DEVICE": "cpu"})
    assert settings.models == ("a/b", "c/d") and settings.visitor_hub_ids and settings.hosted is True
    assert settings.max_sentences == 300  # the environment wins over secrets.toml
    assert parse_settings({}, {"EXPLORER_MODELS": "x/y, z/w"}).models == ("x/y", "z/w")
    assert parse_settings({}, {}) == HostSettings()


@pytest.mark.parametrize("table, environ, words", [
    ({"modles": ["a/b"]}, {}, "'modles' is not a setting (did you mean 'models'?)"),
    ({}, {"EXPLORER_HOSTD": "1"}, "EXPLORER_HOSTD is not a setting (did you mean 'hosted'?)"),
    ({"hosted": "sometimes"}, {}, "'hosted' is true or false"),
    ({"max_training_steps": 400}, {}, "a host may lower the page's cap, not raise it"),
    ({"memory_budget_mb": "lots"}, {}, "'memory_budget_mb' is a number"),
    ({"models": "a/b"}, {"EXPLORER_MAX_MODEL_MB": "-5"}, "cannot be negative"),
])
def test_typos_and_bad_values_are_reported_not_ignored(table, environ, words):
    with pytest.raises(SettingsError) as caught:
        parse_settings(table, environ)
    assert words in str(caught.value)


def test_hosted_is_detected_on_a_space():
    assert HostSettings().is_hosted({"SPACE_ID": "someone/explorer"})
    assert not HostSettings().is_hosted({})
    assert not HostSettings(hosted=False).is_hosted({"SPACE_ID": "someone/explorer"})


@pytest.mark.parametrize("requested", REFUSED)
def test_a_visitor_gets_one_answer_whatever_the_path(requested):
    access = access_for(HostSettings(models=("sentence-transformers/all-mpnet-base-v2",)), visitor=True)
    with pytest.raises(ModelNotOffered) as caught:
        check_model_request(requested, access)
    words = str(caught.value).replace(f"'{requested}'", "'X'", 1)
    assert words == ("This server does not offer 'X'. Visitors can pick 'sentence-transformers/all-MiniLM-L6-v2', "
                     "'sentence-transformers/all-mpnet-base-v2', 'untrained:all-MiniLM-L6-v2'; the host decides which "
                     "models are offered.")  # the untrained twin is offline and cheap: offered everywhere
    assert check_model_request("sentence-transformers/all-mpnet-base-v2", access) == "sentence-transformers/all-mpnet-base-v2"
    assert check_model_request("bundled", access) == "bundled"


def test_a_local_user_keeps_folders_and_ids_unless_the_host_says_no():
    local = access_for(HostSettings(), visitor=False)
    assert check_model_request("/etc", local) == "/etc"  # the loader then says what it finds there
    assert check_model_request("someone/model", local) == "someone/model"
    strict = access_for(HostSettings(local_folders=False), visitor=False)
    assert check_model_request("someone/model", strict) == "someone/model"
    with pytest.raises(ModelNotOffered):
        check_model_request("/etc", strict)


def _visitor_app(monkeypatch, **environ) -> AppTest:
    monkeypatch.setenv("EXPLORER_HOSTED", "1")  # every session a visitor, as behind a proxy
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(APP, default_timeout=300)
    return app


def _sidebar_errors(app: AppTest) -> list[str]:
    return [str(error.value) for error in app.sidebar.error]


def test_a_visitor_cannot_load_paths_or_unlisted_ids_by_field_or_link(monkeypatch):
    app = _visitor_app(monkeypatch)
    app.run()
    messages = {}
    for requested in ["/etc", "/root", "/nonexistent", BUNDLED_PARENT, "someone/unlisted-model"]:
        app.sidebar.text_input(key="model_field").input(requested).run()
        assert not app.exception
        assert app.session_state["model_id"] == BUNDLED_MODEL_ID  # the session keeps its model
        (message,) = _sidebar_errors(app)
        messages[requested] = message.replace(md_escape(requested), "X", 1)
    assert len(set(messages.values())) == 1, messages  # /root and /nonexistent get the same words
    assert "does not offer" in messages["/etc"] and "Still using" in messages["/etc"]
    linked = _visitor_app(monkeypatch)
    linked.query_params["model"] = "/etc"
    linked.run()
    assert linked.session_state["model_id"] == BUNDLED_MODEL_ID
    assert any("does not offer" in message for message in _sidebar_errors(linked))


def test_the_second_model_gets_the_same_checks_by_field_and_link(monkeypatch):
    app = _visitor_app(monkeypatch)
    app.run()
    app.sidebar.text_input(key="compare_field").input("/etc").run()
    assert not app.exception and app.session_state["compare_model_id"] == ""
    (message,) = _sidebar_errors(app)
    assert "does not offer" in message
    linked = _visitor_app(monkeypatch)
    linked.query_params["compare"] = BUNDLED_PARENT
    linked.run()
    assert linked.session_state["compare_model_id"] == ""
    assert any("does not offer" in message for message in _sidebar_errors(linked))
    linked.sidebar.text_input(key="compare_field").input("").run()  # back to no comparison: the message goes
    assert not _sidebar_errors(linked)


def test_a_listed_folder_loads_for_a_visitor_and_hub_ids_never_read_folders(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner" / "name").mkdir(parents=True)  # a folder that reads as a hub id
    app = _visitor_app(monkeypatch, EXPLORER_MODELS=str(bundled_model_dir()), EXPLORER_VISITOR_HUB_IDS="true")
    app.run()
    assert "Offered here" in " ".join(str(c.value) for c in app.sidebar.caption)
    app.sidebar.text_input(key="model_field").input("owner/name").run()
    (message,) = _sidebar_errors(app)
    app.sidebar.text_input(key="model_field").input("nobody/nothing-here").run()
    (other,) = _sidebar_errors(app)
    assert message.replace(md_escape("owner/name"), "X", 1) == other.replace(md_escape("nobody/nothing-here"), "X", 1)  # the folder stays unseen
    app.sidebar.text_input(key="model_field").input(str(bundled_model_dir())).run()
    assert not _sidebar_errors(app) and app.session_state["model_id"] == str(bundled_model_dir().resolve())


def test_a_local_user_still_types_folders(monkeypatch):
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    app.sidebar.text_input(key="model_field").input("/nonexistent").run()
    assert "No model folder at" in _sidebar_errors(app)[0]


def test_a_settings_typo_is_shown_and_the_app_keeps_working(monkeypatch):
    app = _visitor_app(monkeypatch, EXPLORER_MAX_SENTENSES="100")
    app.run()
    assert not app.exception
    warnings = " ".join(str(w.value) for w in app.sidebar.warning)
    assert "EXPLORER\\_MAX\\_SENTENSES is not a setting" in warnings and "max\\_sentences" in warnings


def test_the_host_lowers_the_heavy_pages_caps(monkeypatch):
    from .apptest_pages import open_page

    monkeypatch.setenv("EXPLORER_MAX_TRAINING_STEPS", "5")
    monkeypatch.setenv("EXPLORER_MAX_PASSAGES", "3")
    training = open_page("pages/contrastive.py")
    assert training.slider(key="con_steps").max == 5 and training.slider(key="con_steps").value == 5
    retrieval = open_page("pages/retrieval.py", rt_corpus="pasted", rt_pasted="one\ntwo\nthree\nfour")
    assert "ranks at most 3" in " ".join(str(e.value) for e in retrieval.error)
