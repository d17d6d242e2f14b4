"""Which torch device runs the model: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os

import torch

from ..errors import DeviceError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def available_devices() -> list[str]:
    """Devices this machine can run on, best first."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(preference: str | None = None) -> str:
    """Turn 'auto' (or None, or $EXPLORER_DEVICE) into a concrete device name.

    An explicit device that this machine lacks is an error, not a silent fallback, so the
    page can say why the user's choice was not honoured.
    """
    choice = (preference or os.environ.get("EXPLORER_DEVICE") or "auto").strip().lower()
    if choice not in DEVICE_CHOICES:
        raise DeviceError(f"Unknown device '{choice}'. Choose one of: {', '.join(DEVICE_CHOICES)}.")
    available = available_devices()
    if choice == "auto":
        return available[0]
    if choice not in available:
        raise DeviceError(
            f"Device '{choice}' is not available on this machine (available: {', '.join(available)})."
        )
    return choice
