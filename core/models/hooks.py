"""Forward hooks that record activations by dotted path, and always come off again.

A ``HookRecorder`` is a context manager: hooks are registered on entry and removed on
exit whatever the forward pass raised (the TransformerLens pattern). Each record is
named ``<module path>.<hook name>``, e.g. ``encoder.layer.3.attention.self.hook_pattern``.

The model is one object shared by every browser session, each on its own thread. Two
guards keep sessions apart: callers hold the model's lock for the whole forward pass, and
every hook also checks that the recorder active in *its own thread's context* is the one
it belongs to, so a hook can never write into another call's buffers.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Callable

import torch
from torch import nn

_ACTIVE_RECORDER: ContextVar["HookRecorder | None"] = ContextVar("explorer_active_recorder", default=None)


_LIVE_HANDLES = 0  # hooks this module has registered and not yet removed, in every model
_LIVE_LOCK = threading.Lock()


def live_recorder_hooks() -> int:
    """Hooks registered by HookRecorders and still attached anywhere (0 between calls). Unlike
    count_registered_hooks this ignores hooks transformers installs itself (its output recorders)."""
    return _LIVE_HANDLES


def active_recorder() -> "HookRecorder | None":
    """The recorder of the forward pass running in this thread, if any."""
    return _ACTIVE_RECORDER.get()


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    if hasattr(value, "last_hidden_state"):
        return value.last_hidden_state
    return None


class HookRecorder:
    """Collects named activations of one forward pass of ``model``."""

    def __init__(self, model: nn.Module, modules: dict[str, nn.Module] | None = None):
        self.model = model
        # ``modules`` lets a caller pass a path → module map built once per model (walking the
        # module tree on every trace costs more than some of the layers).
        self._modules: dict[str, nn.Module] = modules if modules is not None else dict(model.named_modules())
        self._path_by_id = {id(module): path for path, module in self._modules.items()}
        self._plan: list[tuple[str, str, str, object]] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._token = None
        self._attention_paths: set[str] = set()
        self.records: dict[str, torch.Tensor] = {}

    # -- planning ---------------------------------------------------------------------------
    def module(self, path: str) -> nn.Module:
        try:
            return self._modules[path]
        except KeyError:
            raise KeyError(f"the model has no module at '{path}'") from None

    def path_of(self, module: nn.Module) -> str | None:
        return self._path_by_id.get(id(module))

    def watch_output(self, path: str, name: str = "hook_out") -> None:
        self.module(path)
        self._plan.append(("output", path, name, None))

    def watch_input(self, path: str, name: str = "hook_in") -> None:
        self.module(path)
        self._plan.append(("input", path, name, None))

    def watch_kwarg(self, path: str, keyword: str, name: str, position: int | None = None) -> None:
        """Record an argument the module is called with (e.g. RoPE's position_embeddings), by
        keyword, or at ``position`` among the positional arguments when the caller passes it so."""
        self.module(path)
        self._plan.append(("kwarg", path, name, (keyword, position)))

    def watch_attention(self, path: str) -> None:
        """Let the attention probe record q, k, v, mask and pattern of this module."""
        self.module(path)
        self._attention_paths.add(path)

    def wants_attention(self, path: str) -> bool:
        return path in self._attention_paths

    def store(self, name: str, value) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach()
        self.records[name] = value

    # -- hook callbacks -----------------------------------------------------------------------
    def _output_hook(self, key: str) -> Callable:
        def hook(module, args, kwargs, output):
            if _ACTIVE_RECORDER.get() is self:
                tensor = _first_tensor(output)
                if tensor is not None:
                    self.store(key, tensor)

        return hook

    def _input_hook(self, key: str) -> Callable:
        def hook(module, args, kwargs):
            if _ACTIVE_RECORDER.get() is self:
                tensor = _first_tensor(args) if args else _first_tensor(kwargs.get("hidden_states"))
                if tensor is not None:
                    self.store(key, tensor)

        return hook

    def _kwarg_hook(self, key: str, keyword: str, position: int | None) -> Callable:
        def hook(module, args, kwargs):
            if _ACTIVE_RECORDER.get() is not self:
                return
            value = kwargs.get(keyword)
            if value is None and position is not None and len(args) > position:
                value = args[position]
            if value is not None:
                if isinstance(value, (tuple, list)):
                    for index, item in enumerate(value):
                        if isinstance(item, torch.Tensor):
                            self.store(f"{key}.{index}", item)
                else:
                    self.store(key, value)

        return hook

    # -- context manager ------------------------------------------------------------------------
    def __enter__(self) -> "HookRecorder":
        try:
            for kind, path, name, extra in self._plan:
                module = self._modules[path]
                key = f"{path}.{name}" if path else name
                if kind == "output":
                    handle = module.register_forward_hook(self._output_hook(key), with_kwargs=True)
                elif kind == "input":
                    handle = module.register_forward_pre_hook(self._input_hook(key), with_kwargs=True)
                else:
                    handle = module.register_forward_pre_hook(self._kwarg_hook(key, *extra), with_kwargs=True)
                self._handles.append(handle)
                _count_handles(+1)
            self._token = _ACTIVE_RECORDER.set(self)
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self._remove()

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
            _count_handles(-1)
        self._handles.clear()
        if self._token is not None:
            _ACTIVE_RECORDER.reset(self._token)
            self._token = None


def _count_handles(delta: int) -> None:
    global _LIVE_HANDLES
    with _LIVE_LOCK:
        _LIVE_HANDLES += delta


def count_registered_hooks(model: nn.Module) -> int:
    """Hooks of any kind left on the model's modules (the tests expect 0 between calls)."""
    total = 0
    for module in model.modules():
        total += len(module._forward_hooks) + len(module._forward_pre_hooks)
    return total
