"""Sentence embeddings for needs (queries) and listings (passages) from any sentence-transformers folder.

Backends: sentence-transformers on torch, or ONNX Runtime on the folder's ``onnx/`` exports (fp32, int8).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV_MODEL = "MATCHMAKER_EMBEDDING_MODEL"
ENV_THREADS = "MATCHMAKER_TORCH_THREADS"
BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8_avx2.onnx"}
# Fastest first, per benchmarks/embed.py; each keeps cosine >= 0.99 against torch fp32.
AUTO_ORDER = ("onnx-int8", "onnx", "torch")
ONNX_POOLING = ("mean", "cls", "max", "lasttoken")

_REPO_ROOT = Path(__file__).resolve().parents[2]
_WHITESPACE = re.compile(r"\s+")
# C0/C1 controls left after whitespace folding, plus lone surrogates (they cannot be UTF-8 encoded).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HUB_CACHE_DIR = re.compile(r"^models--([^/]+?)--(.+)$")


class EmptyTextError(ValueError):
    """A text has nothing left to embed after cleaning."""


@dataclass(frozen=True)
class EmbedderInfo:
    name: str
    dim: int
    backend: str


def clean_text(text: str, max_chars: int = 4000) -> str:
    """Fold whitespace runs to one space, drop control characters, cut to ``max_chars``, strip."""
    text = _CONTROL.sub("", _WHITESPACE.sub(" ", text))
    # e5 turns trailing whitespace into a token that moves the embedding.
    return text.strip()[:max_chars].rstrip()


def default_model_path() -> Path:
    configured = os.environ.get(ENV_MODEL)
    if configured:
        return Path(configured).expanduser()
    return _REPO_ROOT / "var" / "models" / "multilingual-e5-small"


def thread_count() -> int:
    try:
        return max(1, int(os.environ.get(ENV_THREADS, "1")))
    except ValueError:
        return 1


@dataclass(frozen=True)
class ModelFolder:
    """What the embedder needs to know about a sentence-transformers folder, read from its files."""

    path: Path
    name: str
    prompts: dict[str, str]
    modules: list[dict[str, Any]]
    pooling: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> ModelFolder:
        if not path.is_dir():
            raise FileNotFoundError(
                f"embedding model folder not found: {path} (build it with `python scripts/build_model.py`"
                f" or point {ENV_MODEL} at a sentence-transformers folder)"
            )
        st_config = _read_json(path / "config_sentence_transformers.json")
        modules = _read_json(path / "modules.json") or []
        pooling_dir = next((m["path"] for m in modules if m.get("type", "").endswith("Pooling")), None)
        pooling = _read_json(path / pooling_dir / "config.json") if pooling_dir else {}
        return cls(path, _model_name(path), dict(st_config.get("prompts") or {}), modules, pooling or {})

    def prompt(self, kind: str) -> str:
        if kind == "passage":
            return self.prompts.get("passage") or self.prompts.get("document") or ""
        return self.prompts.get(kind) or ""

    def pooling_mode(self) -> str | None:
        """The single pooling mode, or None when pooling is absent or combines several modes."""
        mode = self.pooling.get("pooling_mode")
        if isinstance(mode, str):
            return mode
        if isinstance(mode, list):
            return mode[0] if len(mode) == 1 else None
        prefix = "pooling_mode_"
        flags = [k.removeprefix(prefix) for k, v in self.pooling.items() if k.startswith(prefix) and v]
        names = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max", "lasttoken": "lasttoken"}
        return names.get(flags[0], flags[0]) if len(flags) == 1 else None

    def onnx_unsupported_reason(self) -> str | None:
        """Why this folder's pipeline cannot run on the ONNX path (None when it can)."""
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in self.modules]
        if kinds[:1] != ["Transformer"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
            return f"modules {kinds} (only Transformer, Pooling, Normalize run on ONNX)"
        if self.pooling_mode() not in ONNX_POOLING:
            return f"pooling {self.pooling_mode()!r}"
        if self.pooling.get("include_prompt") is False:
            return "pooling that excludes the prompt"
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _model_name(path: Path) -> str:
    """From README front matter ``model_name:``, else a hub cache folder name, else the folder name."""
    readme = path / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        if text.startswith("---"):
            front = text.split("---", 2)[1]
            match = re.search(r"^model_name:\s*(\S.*?)\s*$", front, re.MULTILINE)
            if match:
                return match.group(1).strip("'\"")
    for part in reversed(path.resolve().parts):
        hub = _HUB_CACHE_DIR.match(part)
        if hub:
            return f"{hub.group(1)}/{hub.group(2)}"
    return path.resolve().name


class Embedder(ABC):
    """Embeds cleaned texts in length-sorted batches; rows come back in input order, L2-normalised."""

    info: EmbedderInfo
    # Texts per forward pass, after sorting by length. Small batches are faster on a CPU: a batch's
    # attention scores (batch x 12 heads x length²) outgrow the caches at 32 long listings
    # (docs/s on 300 Zhibei listings, one thread: torch 6.8/7.1/7.2/6.0 and ONNX int8
    # 12.5/10.6/9.8/7.7 at batches of 1/4/8/32).
    batch_size = 8

    def __init__(self, folder: ModelFolder, backend: str, tokenizer: Any, max_tokens: int, dim: int) -> None:
        self.folder = folder
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.info = EmbedderInfo(name=folder.name, dim=dim, backend=backend)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.folder.prompt("query"))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.folder.prompt("passage"))

    def _embed(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        cleaned = [clean_text(t) for t in texts]
        for i, text in enumerate(cleaned):
            if not text:
                raise EmptyTextError(f"text #{i} is empty after removing whitespace and control characters")
        out = np.zeros((len(cleaned), self.info.dim), dtype=np.float32)
        if not cleaned:
            return out
        prompted = [prompt + t for t in cleaned]
        lengths = [len(ids) for ids in self._token_ids(prompted)]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode_batch([prompted[i] for i in idx])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, truncation=True, max_length=self.max_tokens)["input_ids"]

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch of prompted texts (rows need not be normalised)."""


class TorchEmbedder(Embedder):
    def __init__(self, folder: ModelFolder) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(thread_count())
        _quiet_transformers()
        self.model = SentenceTransformer(str(folder.path), device="cpu", local_files_only=True)
        self.model.eval()
        dim = self.model.get_embedding_dimension()
        super().__init__(folder, "torch", self.model.tokenizer, self.model.max_seq_length or 512, dim)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        ).astype(np.float32, copy=False)


class OnnxEmbedder(Embedder):
    """ONNX Runtime on the transformer graph; pooling and normalisation done here in numpy."""

    batch_size = 1  # one text per run: no padding, and the fastest size measured (see Embedder)

    def __init__(self, folder: ModelFolder, backend: str) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        _quiet_transformers()
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_count()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(folder.path / ONNX_FILES[backend]), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.pooling = folder.pooling_mode() or "mean"
        tokenizer = AutoTokenizer.from_pretrained(str(folder.path), local_files_only=True)
        dim = int(self.session.get_outputs()[0].shape[-1])
        super().__init__(folder, backend, tokenizer, _max_tokens(folder.path, tokenizer), dim)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np")
        mask = enc["attention_mask"].astype(np.int64)
        feeds = {}
        for name in self.input_names:
            value = enc.get(name)
            feeds[name] = (np.zeros_like(mask) if value is None else value).astype(np.int64)
        hidden = self.session.run(None, feeds)[0]
        return hidden if hidden.ndim == 2 else _pool(hidden, mask, self.pooling)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    if mode == "lasttoken":
        return hidden[np.arange(len(hidden)), mask.sum(1) - 1]
    weights = mask[:, :, None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -np.inf).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _max_tokens(path: Path, tokenizer: Any) -> int:
    """The sentence-transformers limit if set, else the tokenizer's, capped by the position table."""
    limits = [
        _read_json(path / "sentence_bert_config.json").get("max_seq_length"),
        getattr(tokenizer, "model_max_length", None),
        _read_json(path / "config.json").get("max_position_embeddings"),
    ]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(usable) if usable else 512


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def resolve_backend(folder: ModelFolder, backend: str) -> str:
    """Map "auto" to the fastest usable backend; check that an explicit ONNX backend can run."""
    if backend == "auto":
        if folder.onnx_unsupported_reason() is None:
            for candidate in AUTO_ORDER:
                if candidate == "torch" or (folder.path / ONNX_FILES[candidate]).is_file():
                    return candidate
        return "torch"
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)} or auto")
    if backend in ONNX_FILES:
        reason = folder.onnx_unsupported_reason()
        if reason:
            raise ValueError(f"backend {backend} cannot run {folder.path}: {reason}")
        if not (folder.path / ONNX_FILES[backend]).is_file():
            raise FileNotFoundError(f"backend {backend} needs {folder.path / ONNX_FILES[backend]}")
    return backend


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(model_path: str | Path | None = None, backend: str = "auto") -> Embedder:
    """The process-wide embedder for (folder, backend), loaded on first use.

    Load it after forking (web or worker processes), never in a parent that forks.
    """
    path = Path(model_path).expanduser() if model_path else default_model_path()
    key = (str(path.resolve()), backend)
    with _cache_lock:
        if key not in _cache:
            folder = ModelFolder.read(path)
            chosen = resolve_backend(folder, backend)
            embedder = TorchEmbedder(folder) if chosen == "torch" else OnnxEmbedder(folder, chosen)
            log.info("loaded embedder %s (%d-dim) on %s", embedder.info.name, embedder.info.dim, chosen)
            _cache[key] = embedder
        return _cache[key]
