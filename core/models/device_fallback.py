"""When the GPU (or Apple MPS) runs out of memory, run the same work on the CPU instead.

A hosted explorer on a small GPU meets texts and sentence sets larger than the card holds.
The work is retried on a CPU copy of the model (made once per model, kept for later
failures) and the caller gets a message to show; errors that are not device failures
propagate unchanged.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import torch

from .explorer_model import ExplorerModel
from .hooks import active_sessions

Result = TypeVar("Result")
logger = logging.getLogger(__name__)

# Text of RuntimeErrors that mean "the accelerator failed", not "your input is wrong".
_DEVICE_FAILURE_MARKERS = ("out of memory", "CUDA error", "CUBLAS_STATUS", "cuDNN error", "MPS backend", "HIP error")


def is_device_failure(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(marker in str(error) for marker in _DEVICE_FAILURE_MARKERS)


def fallback_message(device: str, error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
    return (f"The {device} device failed ({first_line}), so this was computed on the CPU instead: "
            "same model, same numbers, only slower.")


def release_device_memory(device: str) -> None:
    try:
        if device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()
        elif device.startswith("mps") and hasattr(torch, "mps"):
            torch.mps.empty_cache()
    except Exception:  # noqa: BLE001 - a broken device may fail here too; the CPU run goes on
        pass


def run_with_cpu_fallback(
    explorer: ExplorerModel,
    work: Callable[[ExplorerModel], Result],
    notify: Callable[[str], None] | None = None,
) -> tuple[Result, str | None]:
    """(``work(explorer)``, None), or on a device failure (``work(CPU copy)``, the message)."""
    device = str(explorer.info.device)
    if device == "cpu" or active_sessions():  # inside a hook session the hooks live on this model: no CPU copy
        return work(explorer), None
    try:
        return work(explorer), None
    except Exception as error:  # noqa: BLE001 - only device failures are caught; the rest re-raise
        if not is_device_failure(error):
            raise
        release_device_memory(device)
        message = fallback_message(device, error)
        logger.warning(message)
        if notify is not None:
            notify(message)
        return work(explorer.cpu_twin()), message
