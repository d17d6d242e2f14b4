"""An attention function that shows its work.

transformers 5 routes every modern attention module through one pluggable function,
called with the queries and keys *after* RoPE and q/k norms, the final mask (padding,
causal, sliding window) and the scale. Registering our own function there is the one
place where post-rotation Q and K, the pre-softmax scores and the probabilities are all
visible, for every family alike.

While a ``HookSession`` that records this module's probe points is active in the calling
thread, the function runs the model's own eager attention and hands its inputs and pattern to
the session under the names core.models.hook_points declares. Otherwise it runs PyTorch SDPA,
so plain embedding stays as fast as sentence-transformers.

``install()`` registers it (the loader calls it before building a model); importing this module
changes nothing in transformers.
"""

from __future__ import annotations

import sys
import threading

from .hooks import active_sessions

EXPLORER_ATTENTION = "explorer_probe"

_INSTALLED = False
_INSTALL_LOCK = threading.Lock()


def _eager_for(module):
    modeling = sys.modules.get(type(module).__module__)
    eager = getattr(modeling, "eager_attention_forward", None)
    if eager is None:  # a family without its own eager function: the library's generic one
        from transformers.models.llama.modeling_llama import eager_attention_forward as eager
    return eager


def explorer_attention_forward(module, query, key, value, attention_mask, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    session, targets = None, None
    for candidate in reversed(active_sessions()):  # the innermost session that records this module
        targets = candidate.probe_targets(module)
        if targets is not None:
            session = candidate
            break
    if session is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    attn_output, attn_weights = _eager_for(module)(module, query, key, value, attention_mask, **kwargs)
    scaling = kwargs.get("scaling")
    values = {
        "attn.query": query,
        "attn.key": key,
        "attn.value": value,
        "attn.pattern": attn_weights,
        "attn.scale": float(query.shape[-1] ** -0.5 if scaling is None else scaling),
        "attn.mask": attention_mask,
        "attn.bias": kwargs.get("position_bias"),  # T5's relative bias, added to the scores before the mask
    }
    for stage, name in targets.items():
        if values.get(stage) is not None:
            session.store(name, values[stage])
    return attn_output, attn_weights


def install() -> str:
    """Register the probe with transformers (once per process); returns its attn_implementation name."""
    global _INSTALLED
    with _INSTALL_LOCK:
        if not _INSTALLED:
            from transformers import AttentionInterface
            from transformers.masking_utils import AttentionMaskInterface, eager_mask

            AttentionInterface.register(EXPLORER_ATTENTION, explorer_attention_forward)
            # The mask builder is chosen by the same name; the eager one gives the additive float mask
            # that both the eager path and SDPA accept.
            AttentionMaskInterface.register(EXPLORER_ATTENTION, eager_mask)
            _INSTALLED = True
    return EXPLORER_ATTENTION
