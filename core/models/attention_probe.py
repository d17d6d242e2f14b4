"""An attention function that shows its work.

transformers 5 routes every modern attention module through one pluggable function,
called with the queries and keys *after* RoPE and q/k norms, the final mask (padding,
causal, sliding window) and the scale. Registering our own function there is the one
place where post-rotation Q and K, the pre-softmax scores and the probabilities are all
visible, for every family alike.

While a ``HookRecorder`` is active in the calling thread, the function runs the model's
own eager attention and records its inputs and pattern. Otherwise it runs PyTorch SDPA,
so plain embedding stays as fast as sentence-transformers.
"""

from __future__ import annotations

import sys

from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from .hooks import active_recorder

EXPLORER_ATTENTION = "explorer_probe"


def _eager_for(module):
    modeling = sys.modules.get(type(module).__module__)
    eager = getattr(modeling, "eager_attention_forward", None)
    if eager is None:  # a family without its own eager function: the library's generic one
        from transformers.models.llama.modeling_llama import eager_attention_forward as eager
    return eager


def explorer_attention_forward(module, query, key, value, attention_mask, **kwargs):
    recorder = active_recorder()
    path = recorder.path_of(module) if recorder is not None else None
    if path is None or not recorder.wants_attention(path):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    attn_output, attn_weights = _eager_for(module)(module, query, key, value, attention_mask, **kwargs)
    scaling = kwargs.get("scaling")
    recorder.store(f"{path}.hook_query", query)
    recorder.store(f"{path}.hook_key", key)
    recorder.store(f"{path}.hook_value", value)
    recorder.store(f"{path}.hook_pattern", attn_weights)
    recorder.store(f"{path}.hook_scale", float(query.shape[-1] ** -0.5 if scaling is None else scaling))
    if attention_mask is not None:
        recorder.store(f"{path}.hook_mask", attention_mask)
    return attn_output, attn_weights


AttentionInterface.register(EXPLORER_ATTENTION, explorer_attention_forward)
# The mask builder is chosen by the same name; the eager one gives the additive float mask
# that both the eager path and SDPA accept.
AttentionMaskInterface.register(EXPLORER_ATTENTION, eager_mask)
