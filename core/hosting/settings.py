"""The host's settings, read once: environment variables (``EXPLORER_*``) over the ``[explorer]`` table
of Streamlit's ``secrets.toml``.

A person running the app on their own machine needs none of them. A host sets who counts as a
visitor (``hosted``), which models visitors may pick, the caps of the heavy pages and the memory the
caches may hold. A name that is not a setting, or a value of the wrong kind, is an error at start-up
(with the closest setting named), never silently ignored.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from ..errors import ExplorerError

ENV_PREFIX = "EXPLORER_"
# EXPLORER_* names that are not host settings but belong to the project (tests, the device choice, where
# offline models are extracted).
OTHER_ENV_NAMES = frozenset({"EXPLORER_DEVICE", "EXPLORER_CHROMIUM", "EXPLORER_SETTINGS_FILE", "EXPLORER_MODEL_CACHE"})

# The heavy pages' built-in limits: a host may lower them for a class, not raise them (above these
# the work takes minutes on a small CPU; larger jobs go through `python -m core`).
PAGE_CAP_LIMITS = {"max_sentences": 20_000, "max_passages": 20_000, "max_training_steps": 40}


class SettingsError(ExplorerError):
    """The host's settings name something that is not a setting, or give a value that cannot be used."""


@dataclass(frozen=True)
class HostSettings:
    # Every visitor counts as remote, even over a loopback connection (a reverse proxy on the same
    # machine makes everyone look local). None: decided from the environment (see `is_hosted`).
    hosted: bool | None = None
    models: tuple[str, ...] = ()        # hub ids and folders visitors may pick, besides the bundled model
    visitor_hub_ids: bool = False       # visitors may also type other Hugging Face ids
    local_folders: bool = True          # someone at the server's own machine may type any folder path
    max_model_mb: float = 2000.0        # float32 weights of a model loaded on request (0 = no cap)
    max_sentences: int = PAGE_CAP_LIMITS["max_sentences"]            # the Projections page embeds at most
    max_passages: int = PAGE_CAP_LIMITS["max_passages"]              # the retrieval page ranks at most
    max_training_steps: int = PAGE_CAP_LIMITS["max_training_steps"]  # training and the retrieval fix run at most
    memory_budget_mb: int = 768         # every cache of the server together (traces, sentence sets, corpora…)
    warm_projections: bool = True       # at start-up, once the model is ready, compile UMAP for the Projections page
    source: str = "defaults"            # where the settings came from, for the page and the CLI

    def is_hosted(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether every visitor is treated as remote: the setting if given, else true on a
        Hugging Face Space (``SPACE_ID``) or Streamlit Community Cloud (the app under /mount/src)."""
        if self.hosted is not None:
            return self.hosted
        environ = os.environ if environ is None else environ
        return bool(environ.get("SPACE_ID")) or str(Path(__file__).resolve()).startswith("/mount/src/")

    @property
    def max_model_megabytes(self) -> float | None:
        return None if self.max_model_mb <= 0 else float(self.max_model_mb)


SETTING_NAMES = tuple(f.name for f in fields(HostSettings) if f.name != "source")


def _closest(name: str) -> str:
    match = difflib.get_close_matches(name, SETTING_NAMES, n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, value: object, where: str):
    kind = {f.name: f.type for f in fields(HostSettings)}[name]
    if name == "models":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise SettingsError(f"{where}: 'models' is a list of model ids or folders, e.g. [\"sentence-transformers/all-mpnet-base-v2\"].")
        return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    if "bool" in str(kind):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingsError(f"{where}: '{name}' is true or false, not {value!r}.")
    number_kind = float if "float" in str(kind) else int
    try:
        number = number_kind(value.strip() if isinstance(value, str) else value)
        if isinstance(value, bool):
            raise ValueError
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: '{name}' is a number, not {value!r}.") from None
    if number < 0:
        raise SettingsError(f"{where}: '{name}' cannot be negative ({number}).")
    limit = PAGE_CAP_LIMITS.get(name)
    if limit is not None and not 1 <= number <= limit:
        raise SettingsError(f"{where}: '{name}' is between 1 and {limit:,} ({number:,} given): a host may lower the "
                            "page's cap, not raise it.")
    if name == "memory_budget_mb" and number < 64:
        raise SettingsError(f"{where}: 'memory_budget_mb' is at least 64 ({number} given): one long trace needs ~50 MB.")
    return number


def parse_settings(table: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None,
                   *, source: str = "secrets.toml") -> HostSettings:
    """Settings from a secrets table (``[explorer]``) and the environment; the environment wins.
    Raises SettingsError naming every unknown setting and every bad value at once."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    problems: list[str] = []
    origins: list[str] = []
    for name, value in (table or {}).items():
        if name not in SETTING_NAMES:
            problems.append(f"[explorer] in {source}: '{name}' is not a setting{_closest(name)}.")
            continue
        try:
            values[name] = _convert(name, value, f"[explorer] in {source}")
        except SettingsError as error:
            problems.append(str(error))
    if table:
        origins.append(source)
    for env_name, value in environ.items():
        if not env_name.startswith(ENV_PREFIX) or env_name in OTHER_ENV_NAMES:
            continue
        name = env_name[len(ENV_PREFIX):].lower()
        if name not in SETTING_NAMES:
            problems.append(f"environment: {env_name} is not a setting{_closest(name)}.")
            continue
        try:
            values[name] = _convert(name, value, f"environment {env_name}")
        except SettingsError as error:
            problems.append(str(error))
        if "environment" not in origins:
            origins.append("environment")
    if problems:
        raise SettingsError("The host's settings have problems: " + " ".join(problems) +
                            f" Known settings: {', '.join(SETTING_NAMES)}.")
    return HostSettings(**values, source=" + ".join(origins) or "defaults")


def secrets_files(app_dir: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets.toml: $EXPLORER_SETTINGS_FILE, then ~/.streamlit/, then the app's .streamlit/
    (a later file's keys win, as in Streamlit)."""
    explicit = os.environ.get("EXPLORER_SETTINGS_FILE")
    if explicit:
        return [Path(explicit)]
    app_dir = app_dir or Path.cwd()
    return [Path.home() / ".streamlit" / "secrets.toml", app_dir / ".streamlit" / "secrets.toml"]


def read_settings_files(paths: list[Path]) -> tuple[dict[str, object], str]:
    """The merged [explorer] tables of the files that exist, and their names."""
    table: dict[str, object] = {}
    names = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{path} cannot be read as TOML: {str(error)[:200]}") from None
        section = data.get("explorer")
        if section is None:
            continue
        if not isinstance(section, dict):
            raise SettingsError(f"{path}: 'explorer' must be a table ([explorer]).")
        table.update(section)
        names.append(str(path))
    return table, ", ".join(names) or "secrets.toml"


_CACHE: dict[object, HostSettings] = {}  # the last settings read, under what they were read from


def current_settings(table: Mapping[str, object] | None = None, *, source: str = "secrets.toml") -> HostSettings:
    """The process's settings: ``table`` (the app passes Streamlit's ``st.secrets["explorer"]``) or, without
    one, the secrets files; the environment over either. Read again only when the EXPLORER_* variables,
    the table or the files change, so it is cheap to call on every run. Raises SettingsError."""
    environ = {name: value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    if table is None:
        files = secrets_files()
        key = (tuple(sorted(environ.items())), tuple((str(p), p.stat().st_mtime_ns) for p in files if p.is_file()))
    else:
        key = (tuple(sorted(environ.items())), repr(sorted(table.items())))
    if key not in _CACHE:
        if table is None:
            table, source = read_settings_files(files)
        settings = parse_settings(table, environ, source=source)
        _CACHE.clear()
        _CACHE[key] = settings
    return _CACHE[key]


def reset() -> None:
    """Forget the settings read so far (tests)."""
    _CACHE.clear()
