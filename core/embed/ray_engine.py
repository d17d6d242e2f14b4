"""``python -m core embed --engine ray``: the same embedding as ``--engine local``, on Ray Data.

The texts the command read (``read_table`` + ``sentence_set``, exactly as the local path) become a
Ray dataset of (row, text) blocks of ``rows_per_task`` rows; ``map_batches`` sends each block to an
actor of a fixed pool (``ActorPoolStrategy(size=workers)``), each actor holding one model loaded
with ``core.models.loading.load_model`` and embedding its block with ``core.embed.embedding.
embed_texts`` — the local code path, so the numbers are the local numbers. Blocks come back with
their row ids, in whatever order the cluster finishes them; ``embed_output.ShardWriter`` puts them
back in order, refuses a row seen twice or a row missing, and writes Parquet shards and the manifest.

Fault tolerance is Ray's: a worker process that dies is restarted (``max_restarts``) and the tasks
it held are retried on it (``max_task_retries``); the row ids make sure that what comes back is
complete and has no duplicates. ``EXPLORER_RAY_CRASH_ONCE=/path/marker`` makes the first worker to
receive a block kill its own process (once: the marker file records it) — the tests' fault injection.

Ray is optional (``requirements-ray.txt``): nothing here imports it until ``--engine ray`` runs.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import ExplorerError
from .embed_output import DEFAULT_SHARD_ROWS, ShardWriter

__all__ = ["AUTH_HINT", "CRASH_ONCE_ENV", "RAY_INSTALL", "RayAddressError", "RayEmbedder", "RayEngineError", "RayNotInstalledError",
           "RayOptions", "check_address", "embed_to_directory", "import_ray", "job_runtime_env"]

RAY_INSTALL = "bash scripts/setup.sh --with-ray  (or: .venv/bin/python -m pip install -r requirements-ray.txt)"
CRASH_ONCE_ENV = "EXPLORER_RAY_CRASH_ONCE"
# Ray Data's actor pools restart dead actors and retry their tasks without limit by default; bounded
# here so that a block that kills its worker every time fails the run instead of looping forever.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3
CORE_DIR = Path(__file__).resolve().parent.parent
# Passed on to the workers when the command's environment sets them (a remote node has its own environment).
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")


class RayEngineError(ExplorerError):
    """``--engine ray`` cannot run as asked."""


class RayNotInstalledError(RayEngineError):
    """Ray (Ray Data) is not importable in this environment."""


class RayAddressError(RayEngineError):
    """``--address`` is malformed, or no Ray cluster answers there."""


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None        # None: a Ray started for this run on this machine; "auto" or "HOST:PORT": a running cluster
    num_workers: int | None = None    # actors (one model each); None: as many as the cluster's CPUs (or GPUs) allow
    num_gpus: float = 0.0             # per actor
    num_cpus: float = 1.0             # per actor (and torch threads on the CPU)
    rows_per_task: int | None = None  # rows one actor call embeds (sorted by length inside, in batches of batch_size);
                                      # None: a quarter of each worker's share, between batch_size and 1,024


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise RayNotInstalledError(f"--engine ray needs Ray Data, which is not installed here ({error}). "
                                   f"Install it with: {RAY_INSTALL}; or use --engine local.") from error
    return ray


AUTH_HINT = ("if the cluster uses Ray's token authentication (on by default for a cluster on one machine since "
             "Ray 2.59), set RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN, or ~/.ray/auth_token) here")


def check_address(address: str | None, *, timeout_s: float = 5.0) -> str | None:
    """The address as given, after checking its form and, for HOST:PORT, that something answers
    there (``ray.init`` itself waits minutes for a GCS that is not there). None: a Ray of its own."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if address == "auto":
        return address
    if address.startswith("ray://"):
        raise RayAddressError(f"--address {address}: Ray Data cannot run through Ray Client (ray://) in Ray 2.60. "
                              "Run the command on a node of the cluster with --address auto, or submit it there as a "
                              "Ray Job (ray job submit … -- python -m core embed --engine ray --address auto …).")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in address:
        raise RayAddressError(f"--address {address!r} is not auto or HOST:PORT (the head node's GCS, port 6379 "
                              "unless `ray start --head --port` said otherwise).")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        raise RayAddressError(f"no Ray cluster answers at {address} ({error.strerror or error}). Start one with "
                              "`ray start --head` on the head node, or give --address auto on a node of a running cluster.") from error
    return address


def job_runtime_env() -> dict[str, Any]:
    """The job's runtime environment: this ``core`` package shipped to every worker (the nodes need
    the project's Python packages, not its checkout) and the offline switches set here."""
    env_vars = {"TOKENIZERS_PARALLELISM": "false"}
    env_vars.update({name: os.environ[name] for name in FORWARDED_ENV if name in os.environ})
    return {"py_modules": [str(CORE_DIR)], "excludes": ["__pycache__", "*.pyc"], "env_vars": env_vars}


@contextmanager
def ray_connection(address: str | None) -> Iterator[Any]:
    """Ray, connected: the caller's connection if it already has one, else ``ray.init`` (a new
    local Ray when ``address`` is None), shut down again afterwards."""
    ray = import_ray()
    address = check_address(address)
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"runtime_env": job_runtime_env(), "logging_level": logging.WARNING}
    if address is None:
        kwargs["include_dashboard"] = False
    try:
        # "local": always a new Ray on this machine, never one that `ray start` left running
        ray.init(address=address or "local", **kwargs)
    except ConnectionError as error:
        raise RayAddressError(f"could not connect to Ray at {address}: {str(error).splitlines()[0]} "
                              f"({AUTH_HINT}).") from error
    try:
        yield ray
    finally:
        ray.shutdown()


class RayEmbedder:
    """The callable class ``map_batches`` runs on each actor: one model per actor, loaded once."""

    def __init__(self, model_id: str | None, device: str, batch_size: int, threads: int | None,
                 crash_marker: str | None = None):
        from ..models.loading import load_model, quiet_transformers_logging

        quiet_transformers_logging()
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model = load_model(model_id, device)
        self.batch_size = batch_size
        self.crash_marker = crash_marker
        self.calls = 0

    def _crash_once(self) -> None:
        """Fault injection: the first actor to get a block, in the whole run, dies here (os._exit);
        the marker file (created exclusively) keeps every later actor, and the restarted one, alive."""
        try:
            handle = os.open(self.crash_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        os._exit(1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .embedding import embed_texts

        self.calls += 1
        if self.crash_marker and self.calls == 1:
            self._crash_once()
        texts = [str(text) for text in batch["text"]]
        vectors = embed_texts(self.model, texts, batch_size=self.batch_size)
        return {"row": np.asarray(batch["row"], dtype=np.int64), "vector": np.asarray(vectors, dtype=np.float32)}


def _worker_count(ray, options: RayOptions, total: int, batch_size: int,
                  notify: Callable[[str], None]) -> tuple[int, int]:
    """(workers, rows per task): --num-workers, else what the cluster's CPUs (or GPUs) hold now;
    --rows-per-task, else about four tasks per worker, between batch_size and 1,024 rows."""
    resources = ray.cluster_resources()
    if options.num_workers is not None:
        workers = options.num_workers
    elif options.num_gpus > 0:
        workers = int(resources.get("GPU", 0) // options.num_gpus)
    else:
        workers = int(resources.get("CPU", 1) // max(options.num_cpus, 1e-9))
    workers = max(1, workers)
    rows = options.rows_per_task or max(batch_size, min(1024, -(-total // (4 * workers))))
    workers = min(workers, -(-total // rows))
    if options.num_gpus > 0 and resources.get("GPU", 0) < workers * options.num_gpus:
        notify(f"the cluster has {resources.get('GPU', 0):g} GPUs now; {workers} workers × {options.num_gpus:g} GPU "
               "wait until it has more (an autoscaling cluster adds nodes; a fixed one never starts them).")
    return workers, rows


@contextmanager
def _quiet_ray_data(ray):
    """Ray Data's progress bars and statistics off for the run (the command prints its own progress).
    Logger levels stay the host's: the CLI sets RAY_DATA_LOG_LEVEL before Ray Data is imported."""
    context = ray.data.DataContext.get_current()
    saved = {name: getattr(context, name) for name in ("enable_progress_bars", "print_on_execution_start",
                                                      "enable_auto_log_stats") if hasattr(context, name)}
    progress_logger = logging.getLogger("ray.data._internal.progress")  # "Progress bars disabled. To enable, …"

    def not_that_notice(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Progress bars disabled")

    for name in saved:
        setattr(context, name, False)
    progress_logger.addFilter(not_that_notice)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        progress_logger.removeFilter(not_that_notice)


def embed_to_directory(texts: Sequence[str], labels: Sequence[str] | None, out: str | os.PathLike, *,
                       model_facts: Mapping[str, Any], model_id: str | None = None, device: str = "auto",
                       batch_size: int = 32, options: RayOptions = RayOptions(), shard_rows: int = DEFAULT_SHARD_ROWS,
                       command_options: Mapping[str, Any] | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       notify: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Embed ``texts`` on Ray and write ``out`` (shards + manifest.json); returns the manifest.

    ``model_facts`` (model id, pooling, …) go into the manifest as they are; the actors load
    ``model_id`` on ``device`` themselves."""
    import pyarrow as pa

    if (options.rows_per_task is not None and options.rows_per_task < 1) or (options.num_workers is not None
                                                                            and options.num_workers < 1):
        raise RayEngineError("--rows-per-task and --num-workers must be at least 1.")
    if options.num_gpus < 0 or options.num_cpus <= 0:
        raise RayEngineError("--num-gpus must be 0 or more and --num-cpus more than 0.")
    ray = import_ray()
    check_address(options.address)  # before anything is written
    writer = ShardWriter(out, texts, labels, shard_rows=shard_rows)
    total = len(texts)
    on_cpu = options.num_gpus == 0
    # Ray leaves CUDA_VISIBLE_DEVICES alone for an actor given no GPU: "auto" would take one it was not given.
    actor_device = "cpu" if on_cpu and device == "auto" else device
    connected = "the caller's Ray connection" if ray.is_initialized() else (options.address or "a Ray started for this run")
    with ray_connection(options.address) as ray, _quiet_ray_data(ray):
        workers, step = _worker_count(ray, options, total, batch_size, notify)
        blocks = [pa.table({"row": pa.array(np.arange(start, min(start + step, total)), pa.int64()),
                            "text": pa.array(list(texts[start:start + step]), pa.string())})
                  for start in range(0, total, step)]
        crash_marker = os.environ.get(CRASH_ONCE_ENV) or None
        dataset = ray.data.from_arrow(blocks)
        with warnings.catch_warnings():
            # max_restarts / max_task_retries have no named parameter in Ray Data 2.60, only the
            # **ray_remote_args that warn of their removal in 2.64 (requirements-ray.txt pins 2.60).
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated.*")
            embedded = dataset.map_batches(
                RayEmbedder,
                fn_constructor_kwargs={"model_id": model_id, "device": actor_device, "batch_size": batch_size,
                                       "threads": max(1, int(options.num_cpus)) if on_cpu else None,
                                       "crash_marker": crash_marker},
                batch_size=step, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=options.num_cpus, num_gpus=options.num_gpus or None, udf_modifying_row_count=False,
                max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES)
        try:
            for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                writer.add(batch["row"], batch["vector"])
                if progress is not None:
                    progress(writer.done, total)
        except ExplorerError:
            raise
        except Exception as error:  # noqa: BLE001 - Ray wraps a worker's error in its own types
            cause = getattr(error, "cause", None) or error.__cause__
            if isinstance(cause, ExplorerError):
                raise RayEngineError(f"a Ray worker failed: {cause}") from error
            raise RayEngineError(f"the Ray run failed: {type(error).__name__}: {str(error).splitlines()[0][:400]}") from error
        ray_facts = {"version": ray.__version__, "address": connected, "device": actor_device,
                     "workers": workers, "num_cpus_per_worker": options.num_cpus, "num_gpus_per_worker": options.num_gpus,
                     "rows_per_task": step, "max_restarts": MAX_RESTARTS, "max_task_retries": MAX_TASK_RETRIES}
    return writer.finish(model=model_facts, engine="ray", options=command_options or {}, extra={"ray": ray_facts})
