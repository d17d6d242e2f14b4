"""Errors the explorer raises on purpose.

Every one carries a message written for the person using the app, so a page can show
``str(error)`` as it is; none of them should ever surface as a stack trace.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class: something the user can act on, with a plain-language message."""


class InputTextError(ExplorerError, ValueError):
    """The text given is empty, whitespace only, or not text at all."""


class ModelLoadError(ExplorerError):
    """A model id or folder could not be loaded (unknown, offline, corrupted, too large)."""


class ModelIntegrityError(ModelLoadError):
    """A bundled model file failed its checksum."""


class ModelTooLargeError(ModelLoadError):
    """The model is larger than this server's cap; refused before its weights were fetched."""


class UnsupportedArchitectureError(ModelLoadError):
    """The model loaded, but the tracer does not know where its activations live."""


class DeviceError(ExplorerError):
    """The requested device does not exist on this machine."""
