"""Recording and patching hooks on a model's declared hook points, in one context manager.

A ``HookSession`` registers every hook on entry and removes every one on exit, whatever the
forward pass raised (TransformerLens' ``hooks()`` pattern). Two kinds of hook:

* recording: the value at a hook point is kept in ``session.records[name]``;
* patching: a function of the value whose result replaces it (zero the position rows, undo
  RoPE's rotation, put in an activation from elsewhere).

The model is one object shared by every browser session, each on its own thread. Two guards
keep sessions apart: ``ExplorerModel`` holds its lock for the whole session, and every hook
also checks that its session is open in *its own thread's context*, so a hook never writes
into, or changes, another call's forward pass.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Callable, Iterable, Mapping

import torch
from torch import nn

from .hook_points import HookPoint, HookRegistry

Patch = Callable[[object], object]  # the hook point's value → its replacement

# The sessions open in this thread's context, outermost first: a patching session (the position
# ablation) stays in force while the calls inside it open recording sessions of their own.
_ACTIVE_SESSIONS: ContextVar[tuple["HookSession", ...]] = ContextVar("explorer_active_hook_sessions", default=())

_LIVE_HANDLES = 0  # hooks of either kind registered by HookSessions and not yet removed, in every model
_LIVE_LOCK = threading.Lock()


def live_hooks() -> int:
    """Recording and patching hooks registered by the explorer and still attached anywhere (0 between
    calls). Unlike count_registered_hooks this ignores hooks transformers installs itself."""
    return _LIVE_HANDLES




def active_sessions() -> tuple["HookSession", ...]:
    """The hook sessions open in this thread, outermost first (empty when none)."""
    return _ACTIVE_SESSIONS.get()


def zero_output(value):
    """Patch: the module's output replaced by zeros of the same shape."""
    return torch.zeros_like(value) if isinstance(value, torch.Tensor) else value


def identity_rotation(value):
    """Patch for a RoPE module's (cos, sin): (1, 0), so queries and keys are not rotated at all."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        cos, sin = value
        return torch.ones_like(cos), torch.zeros_like(sin)
    return value


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    if hasattr(value, "last_hidden_state"):
        return value.last_hidden_state
    return None


class HookSession:
    """The hooks of one forward pass (or several, run inside the ``with`` block in this thread)."""

    def __init__(self, registry: HookRegistry, modules: Mapping[str, nn.Module], *, record: Iterable[str] = (),
                 patches: Mapping[str, Patch] | None = None, path_by_id: Mapping[int, str] | None = None):
        self.registry = registry
        self._modules = modules
        # module id → path, for the attention probe (a model passes the map it built once)
        self._path_by_id = path_by_id if path_by_id is not None else {id(m): path for path, m in modules.items()}
        self.record = frozenset(record)
        self.patches = dict(patches or {})
        for name in (*self.record, *self.patches):
            if name not in registry:
                raise KeyError(f"'{name}' is not a hook point of this model")
        for name in self.patches:
            if registry.hook_dict[name].kind != "output":
                raise ValueError(f"'{name}' cannot be patched: only module outputs can be replaced")
        self.records: dict[str, object] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._token = None

    # -- what the attention probe asks -----------------------------------------------------------
    def path_of(self, module: nn.Module) -> str | None:
        return self._path_by_id.get(id(module))

    def probe_targets(self, module: nn.Module) -> Mapping[str, str] | None:
        """stage → hook name for the probe points of this attention module that this session records."""
        path = self.path_of(module)
        names = self.registry.probe_names(path) if path is not None else None
        if not names or not any(name in self.record for name in names.values()):
            return None
        return {stage: name for stage, name in names.items() if name in self.record}

    def store(self, name: str, value) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach()
        self.records[name] = value

    # -- hook callbacks ----------------------------------------------------------------------------
    def _output_hook(self, point: HookPoint) -> Callable:
        recording = point.name in self.record
        patch = self.patches.get(point.name)

        def hook(module, args, kwargs, output):
            if self not in _ACTIVE_SESSIONS.get():
                return None
            if patch is not None:
                output = patch(output)
            if recording:
                tensor = _first_tensor(output) if point.stage != "rotary" else output
                if isinstance(tensor, (tuple, list)):
                    for index, item in enumerate(tensor):
                        self.store(f"{point.name}.{index}", item)
                elif tensor is not None:
                    self.store(point.name, tensor)
            return output if patch is not None else None

        return hook

    def _input_hook(self, point: HookPoint) -> Callable:
        def hook(module, args, kwargs):
            if self in _ACTIVE_SESSIONS.get():
                tensor = _first_tensor(args) if args else _first_tensor(kwargs.get("hidden_states"))
                if tensor is not None:
                    self.store(point.name, tensor)

        return hook

    def _argument_hook(self, point: HookPoint) -> Callable:
        def hook(module, args, kwargs):
            if self not in _ACTIVE_SESSIONS.get():
                return
            value = kwargs.get(point.keyword)
            if value is None and point.position is not None and len(args) > point.position:
                value = args[point.position]
            if isinstance(value, (tuple, list)):
                for index, item in enumerate(value):
                    if isinstance(item, torch.Tensor):
                        self.store(f"{point.name}.{index}", item)
            elif value is not None:
                self.store(point.name, value)

        return hook

    # -- context manager -----------------------------------------------------------------------------
    def __enter__(self) -> "HookSession":
        try:
            for name in sorted(self.record | set(self.patches)):
                point = self.registry.hook_dict[name]
                if point.kind == "probe":
                    continue  # filled by the attention probe, which asks active_sessions()
                module = self._modules[point.module] if point.module else self._modules[""]
                if point.kind == "output":
                    handle = module.register_forward_hook(self._output_hook(point), with_kwargs=True)
                elif point.kind == "input":
                    handle = module.register_forward_pre_hook(self._input_hook(point), with_kwargs=True)
                else:
                    handle = module.register_forward_pre_hook(self._argument_hook(point), with_kwargs=True)
                self._handles.append(handle)
                _count_handles(+1)
            self._token = _ACTIVE_SESSIONS.set(_ACTIVE_SESSIONS.get() + (self,))
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
            _ACTIVE_SESSIONS.reset(self._token)
            self._token = None


def _count_handles(delta: int) -> None:
    global _LIVE_HANDLES
    with _LIVE_LOCK:
        _LIVE_HANDLES += delta


def count_registered_hooks(model) -> int:
    """Hooks of any kind left on the model's modules (the tests expect 0 between calls). Takes an
    ExplorerModel or a torch module."""
    module = getattr(model, "torch_module", model)
    total = 0
    for part in module.modules():
        total += len(part._forward_hooks) + len(part._forward_pre_hooks)
    return total
