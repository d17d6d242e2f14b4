"""The one interface through which the explorer runs a model (after llm-transparency-tool's
``TransparentLlm``): a forward pass of tokenized text with recording and patching hooks, a batched
``encode`` that follows the model's sentence-transformers pipeline, a single module applied to
given values, and a private copy to train.

The lock, the device, the input dict, inference mode and the CPU fallback live here; the torch
module, its lock and its module map are private to this package (``torch_module`` is exposed for
tests that build independent references from the same weights).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..errors import InputTextError
from ..pipeline.sentence_pipeline import SentencePipeline
from ..text.tokenization import TokenizedText, tokenize
from . import batching
from .architectures import Architecture
from .hook_points import HookRegistry
from .hooks import HookSession, Patch
from .model_info import ModelInfo


class EmbeddingStopped(Exception):
    """``should_stop`` returned True; says how far the embedding got."""

    def __init__(self, done: int, total: int):
        super().__init__(f"stopped after {done} of {total} texts")
        self.done, self.total = done, total


@dataclass(frozen=True)
class ForwardResult:
    last_hidden_state: torch.Tensor       # [1, T, d] on the CPU, float32
    records: Mapping[str, object]         # hook name → recorded tensor (or float), as the session kept them


class ExplorerModel:
    """One loaded model, shared by every session of the app."""

    def __init__(self, torch_module, tokenizer, architecture: Architecture, info: ModelInfo,
                 pipeline: SentencePipeline, source_dir: str):
        self.torch_module = torch_module
        self.tokenizer = tokenizer
        self.architecture = architecture
        self.info = info
        self.pipeline = pipeline
        self.source_dir = source_dir
        self.hook_points = HookRegistry(architecture, info.n_layers)
        # Serialises forward passes: hooks live on this shared module, so two sessions must not run it
        # at once (every hook also checks its own session; this is the second guard).
        self._lock = threading.RLock()
        self._modules = dict(torch_module.named_modules())
        self._path_by_id = {id(module): path for path, module in self._modules.items()}
        self._cpu_twin: ExplorerModel | None = None
        self._twin_lock = threading.Lock()
        self._prompt_lengths: dict[str, int] = {}

    # -- what the model is ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.torch_module.parameters()).device

    @property
    def hook_dict(self):
        """Every hook point of this model by name (TransformerLens' ``hook_dict``)."""
        return self.hook_points.hook_dict

    def config_value(self, name: str, default=None):
        """A value of the transformers config (e.g. ``sliding_window``), read-only."""
        return copy.deepcopy(getattr(self.torch_module.config, name, default))

    def weights(self, which: str) -> np.ndarray | None:
        """An embedding table as read-only numpy: 'word_embeddings' [vocab, d], 'position_embeddings'
        [positions, d], 'token_type_embeddings' [types, d] or 'relative_attention_bias' [buckets, heads]
        (MPNet's and T5's bias per relative-offset bucket); None where the model has none."""
        path = {"word_embeddings": self.architecture.word_embeddings,
                "position_embeddings": self.architecture.position_embeddings,
                "token_type_embeddings": self.architecture.token_type_embeddings,
                "relative_attention_bias": self.architecture.relative_bias}[which]
        if path is None:
            return None
        weight = self._modules[path].weight.detach().float().cpu().numpy()
        weight.setflags(write=False)
        return weight

    def token_table_rows(self, input_ids: Sequence[int]) -> torch.Tensor:
        """[T, d] the word-embedding table's rows ``input_ids``, as stored (before any scale the family
        applies): the lookup itself, for families whose embedding module scales inside its forward."""
        table = self._modules[self.architecture.word_embeddings].weight
        with torch.inference_mode():
            return table[torch.as_tensor(list(input_ids), dtype=torch.long, device=table.device)].detach().float().cpu()

    def embedding_scale(self) -> float | None:
        """The factor the token rows are multiplied by before layer 1 (Gemma: √d_model), read from the
        model's own buffer; None for families that use the rows as they are."""
        path = self.architecture.embedding_scale
        if path is None:
            return None
        module_path, _, name = path.rpartition(".")
        return float(getattr(self._modules[module_path], name))

    def has_module(self, path: str | None) -> bool:
        return path is not None and path in self._modules

    # -- running it ------------------------------------------------------------------------------------
    @contextmanager
    def hooks(self, *, record: Iterable[str] = (), patches: Mapping[str, Patch] | None = None) -> Iterator[HookSession]:
        """Within the block, this thread's forward passes of this model record ``record`` and run
        with ``patches`` applied; the model's lock is held throughout and every hook comes off at the
        end, whatever happened."""
        with self._lock, HookSession(self.hook_points, self._modules, record=record, patches=patches,
                                     path_by_id=self._path_by_id) as session:
            yield session

    def inputs_for(self, tokens: TokenizedText) -> dict[str, torch.Tensor]:
        device = self.device
        inputs = {
            "input_ids": torch.as_tensor(tokens.input_ids, device=device).unsqueeze(0),
            "attention_mask": torch.ones(1, len(tokens), dtype=torch.long, device=device),
        }
        if self.architecture.token_type_embeddings:
            inputs["token_type_ids"] = torch.as_tensor(tokens.token_type_ids, device=device).unsqueeze(0)
        return inputs

    def forward(self, tokens: TokenizedText, *, record: Iterable[str] = (),
                patches: Mapping[str, Patch] | None = None) -> ForwardResult:
        """One forward pass of one tokenized text, recording the named hook points."""
        inputs = self.inputs_for(tokens)
        with self.hooks(record=record, patches=patches) as session, torch.inference_mode():
            output = self.torch_module(**inputs)
        return ForwardResult(output.last_hidden_state.float().cpu(), dict(session.records))

    def tokenize(self, text: str, *, prompt: str = "", max_length: int | None = None) -> TokenizedText:
        return tokenize(self.tokenizer, prompt + text, max_length or self.info.max_seq_length)

    def prompt_length(self, prompt: str) -> int:
        """Tokens of ``prompt`` at the start of a text, [CLS] included and a trailing [SEP] not, as
        sentence-transformers measures it for Pooling(include_prompt=False)."""
        if not prompt:
            return 0
        if prompt not in self._prompt_lengths:
            ids = self.tokenizer(prompt, truncation=True, max_length=self.info.max_seq_length)["input_ids"]
            length = len(ids)
            if ids and ids[-1] in set(self.tokenizer.all_special_ids):
                length -= 1
            self._prompt_lengths[prompt] = length
        return self._prompt_lengths[prompt]

    def apply_module(self, path: str, values: np.ndarray) -> np.ndarray:
        """Run one module of the model (a LayerNorm, an output projection …) on ``values`` [T, d_in]."""
        module = self._modules[path]
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else self.device
        dtype = parameter.dtype if parameter is not None else torch.float32
        with self._lock, torch.inference_mode():
            output = module(torch.as_tensor(np.array(values), dtype=dtype, device=device).unsqueeze(0))
        output = output[0] if isinstance(output, (tuple, list)) else output
        return output[0].float().cpu().numpy()

    def encode(
        self,
        texts: Sequence[str],
        *,
        pooling: str | Sequence[str] | None = None,
        normalize: bool | None = None,
        prompt: str | None = None,
        prompt_name: str | None = None,
        batch_size: int = 32,
        max_tokens: int | None = None,
        layer: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        idf: np.ndarray | None = None,
        patches: Mapping[str, Patch] | None = None,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Embed ``texts`` in batches, the model's sentence-transformers pipeline end to end: prompt,
        transformer, pooling, Dense, Normalize. [N, d] for one pooling (the pipeline's own by default),
        or name → [N, d] when ``pooling`` is a list, all from one forward pass per batch; rows in the
        order of ``texts``.

        ``pooling`` replaces only the pooling stage (the Dense layers still follow); ``normalize``
        defaults to the pipeline's Normalize; ``layer`` pools the hidden state after that layer
        (0 = the embedding output) with no Dense layers, since those were trained on the last one.
        ``idf`` is a vocabulary-sized weight vector for the 'idf' pooling. ``patches`` run the
        passes with those hook-point patches (e.g. the position ablation).

        Batches are cut by padded tokens, not by a number of texts (core.models.batching): the texts
        are tokenized once, sorted by token count, and each batch holds at most ``max_tokens`` padded
        tokens, by default ``batch_size`` texts of the model's longest length (what a
        sentence-transformers batch of ``batch_size`` holds at most), but no more than
        ``batching.TOKEN_BUDGET`` and on the CPU no more than about half a second of work, so one
        batch never holds the model's lock for long (``batching.default_token_budget``)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputTextError("Expected a list of texts.")
        if len(texts) == 0:
            raise InputTextError("There are no texts to embed.")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        single = pooling is None or isinstance(pooling, str)
        modes = [pooling or self.pipeline.pooling_mode] if single else list(pooling)
        if "idf" in modes and idf is None:
            raise ValueError("the 'idf' pooling needs idf weights (core.text.idf.idf_weights)")
        idf_tensor = None if idf is None else torch.as_tensor(np.array(idf, dtype=np.float32))
        prompt_text = self.pipeline.resolve_prompt(prompt, prompt_name)
        prompt_length = self.prompt_length(prompt_text)
        full_texts = [prompt_text + text for text in texts] if prompt_text else texts
        total = len(texts)

        def stopped(done: int):
            raise EmbeddingStopped(done, total)

        max_length = self.info.max_seq_length
        with_types = bool(self.architecture.token_type_embeddings)
        tokenized = batching.tokenize_all(self.tokenizer, full_texts, max_length, token_types=with_types,
                                          should_stop=should_stop, on_stop=lambda: stopped(0))
        budget = max_tokens if max_tokens is not None else batching.default_token_budget(self.info, batch_size)
        batches = batching.token_budget_batches(tokenized.lengths, budget)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        padding_side = getattr(self.tokenizer, "padding_side", "right")
        outputs: dict[str, np.ndarray] = {}
        device = self.device
        done = 0
        for index in batches:
            if should_stop is not None and should_stop():
                stopped(done)
            ids, mask, types = batching.padded_batch(tokenized, index, pad_id, padding_side)
            batch = {"input_ids": torch.from_numpy(ids).to(device), "attention_mask": torch.from_numpy(mask).to(device)}
            if types is not None:
                batch["token_type_ids"] = torch.from_numpy(types).to(device)
            # The lock is taken per batch, so traces from other sessions run in between.
            with (self.hooks(patches=patches) if patches else self._lock), torch.inference_mode():
                result = self.torch_module(**batch, output_hidden_states=layer is not None)
                hidden = result.last_hidden_state if layer is None else result.hidden_states[layer]
                token_weights = None if idf_tensor is None else idf_tensor[torch.from_numpy(ids)].to(hidden.device)
                for mode in modes:
                    vectors = self.pipeline.embed(hidden, batch["attention_mask"], mode=mode, prompt_length=prompt_length,
                                                  token_weights=token_weights, normalize=normalize, dense=layer is None)
                    if mode not in outputs:
                        outputs[mode] = np.zeros((total, vectors.shape[-1]), dtype=np.float32)
                    outputs[mode][index] = vectors.float().cpu().numpy()
            done += len(index)
            if progress is not None:
                progress(done, total)
        return outputs[modes[0]] if single else outputs

    # -- copies ----------------------------------------------------------------------------------------
    def training_copy(self) -> "TrainingCopy":
        """A private copy of the weights to train; this shared model is never touched."""
        with self._lock:  # copy while no other session runs a forward pass
            module = copy.deepcopy(self.torch_module)
        return TrainingCopy(module, self.tokenizer, self.architecture)

    def cpu_twin(self) -> "ExplorerModel":
        """A CPU copy of this model (same weights), made on first use: where work goes when the
        accelerator runs out of memory (core.models.device_fallback). The CPU model is its own twin."""
        if str(self.info.device) == "cpu" and self.device.type == "cpu":
            return self
        with self._twin_lock:
            if self._cpu_twin is None:
                from transformers.initialization import no_init_weights

                from .architectures import build_from_config

                config = copy.deepcopy(self.torch_module.config)
                with no_init_weights():  # the weights are copied in below: no random initialisation needed
                    # the same class as this model (T5: the encoder alone)
                    twin = build_from_config(self.architecture, config, attn_implementation=config._attn_implementation).float()
                # weights copied tensor by tensor to host memory: no second copy on the full device
                with self._lock:
                    twin.load_state_dict({name: t.detach().to("cpu") for name, t in self.torch_module.state_dict().items()})
                twin.eval().requires_grad_(False)
                info = dataclasses.replace(self.info, device="cpu")
                self._cpu_twin = ExplorerModel(twin, self.tokenizer, self.architecture, info, self.pipeline, self.source_dir)
            return self._cpu_twin

    def __repr__(self) -> str:
        return f"ExplorerModel({self.info.model_id!r}, {self.info.family}, device={self.info.device})"


class TrainingCopy:
    """A private, trainable copy of a model's weights (the training page's fine-tuning).

    Dropout stays off, so a few steps on one batch are deterministic and need no random numbers:
    nothing here draws from, or reseeds, torch's global generator that all sessions share."""

    def __init__(self, module, tokenizer, architecture: Architecture):
        self._module = module
        self._module.eval()            # eval() only switches dropout off; gradients still flow
        self._module.requires_grad_(True)
        self._tokenizer = tokenizer
        self._architecture = architecture

    def parameters(self):
        return self._module.parameters()

    @property
    def device(self) -> torch.device:
        return next(self._module.parameters()).device

    def embed(self, texts: list[str], max_length: int) -> torch.Tensor:
        """Mean-pooled, normalised vectors of ``texts`` with gradients (the InfoNCE objective's view)."""
        from ..pipeline.pooling import pool

        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        keys = ("input_ids", "attention_mask", "token_type_ids") if self._architecture.token_type_embeddings else ("input_ids", "attention_mask")
        batch = {key: batch[key].to(self.device) for key in keys if key in batch}
        hidden = self._module(**batch).last_hidden_state
        return torch.nn.functional.normalize(pool("mean", hidden, batch["attention_mask"]), dim=-1)

    def release(self) -> None:
        """Drop the copy's weights and give their memory back (they and the optimiser state are
        several times the model's size)."""
        import gc

        from .memory import return_freed_memory

        self._module = None
        gc.collect()
        return_freed_memory()
