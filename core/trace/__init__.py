"""One forward pass of one text with every stage recorded, and its export."""

from .data import EmbeddingStage, LayerTrace, PipelineStage, Trace
from .tracer import trace_text

__all__ = ["EmbeddingStage", "LayerTrace", "PipelineStage", "Trace", "trace_text"]
