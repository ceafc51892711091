"""Own the sentence vectors of the labelled messages the router and the action reader train on, shipped precomputed so
no process encodes them at start.

`agents/data/intent_vectors.npz` holds, for every message of the data files in `DATA_PATHS`, its unit vector from
the shared encoder (`hub.knowledge.encoder`), stored as float16, and the sha256 of those files' bytes. A data file
edited without a new artifact is caught by `is_fresh()` (a unit test asserts it). Regenerate with
`python -m agents.intent_vectors`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from hub.knowledge import encoder
from hub.text import without_identifiers

DATA_DIR = Path(__file__).parent / "data"
ACTION_EXAMPLES_PATH = DATA_DIR / "action_examples.jsonl"
"""The action reader's labelled messages (`agents.actions`)."""
REASON_EXAMPLES_PATH = DATA_DIR / "reason_examples.jsonl"
"""The return-reason reader's labelled messages (`agents.actions`)."""
READ_WITHOUT_IDENTIFIERS: tuple[Path, ...] = (ACTION_EXAMPLES_PATH, REASON_EXAMPLES_PATH)
"""Files whose readers read a message without its order numbers, emails and phones (`hub.text.without_identifiers`):
those forms of their messages are shipped too."""
DATA_PATHS: tuple[Path, ...] = (
    *(
        DATA_DIR / name
        for name in (
            "intent_examples.jsonl",
            "intent_paraphrases.jsonl",
            "intent_holdout.jsonl",
            "intent_paraphrases_holdout.jsonl",
        )
    ),
    *READ_WITHOUT_IDENTIFIERS,
)
"""Every labelled file whose messages have a precomputed vector: the training files and the held-out ones."""
ARTIFACT_PATH = DATA_DIR / "intent_vectors.npz"


def data_digest(paths: Sequence[Path] = DATA_PATHS) -> str:
    """Return the sha256 of the data files' bytes, in order, each prefixed with its name."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def stored_digest(path: Path = ARTIFACT_PATH) -> str:
    """Return the data digest the artifact was built from."""
    with np.load(path) as artifact:
        return str(artifact["digest"])


def is_fresh(path: Path = ARTIFACT_PATH) -> bool:
    """Tell whether the artifact was built from the data files as they are now."""
    return path.exists() and stored_digest(path) == data_digest()


@cache
def _shipped() -> dict[str, np.ndarray]:
    if not ARTIFACT_PATH.exists():
        return {}
    with np.load(ARTIFACT_PATH) as artifact:
        texts = [str(t) for t in artifact["texts"]]
        vectors = artifact["vectors"].astype(np.float32)
    return dict(zip(texts, vectors, strict=True))


def shipped_vector(text: str) -> np.ndarray | None:
    """Return the shipped vector of a labelled message, or None for a text the data files do not hold."""
    return _shipped().get(text)


@lru_cache(maxsize=4096)
def sentence_vector(text: str) -> np.ndarray | None:
    """A message's unit sentence vector, cached (the router and the action reader read the same message, and a
    conversation's engine and evals route the same text twice); None when the encoder is not installed, so
    readers go on without their sentence heads.

    A labelled message of the data files (as evals and tests read) has its vector shipped: no encoder call."""
    shipped = shipped_vector(text)
    if shipped is not None:
        return shipped
    try:
        return encoder.encode([text])[0]
    except encoder.EncoderMissingError:
        return None


def vectors_for(texts: Sequence[str]) -> np.ndarray:
    """Return an (n, 512) float32 matrix of unit vectors: shipped ones looked up, any others encoded now."""
    shipped = _shipped()
    missing = sorted({t for t in texts if t not in shipped})
    fresh = dict(zip(missing, encoder.encode(missing), strict=True)) if missing else {}
    out = np.empty((len(texts), encoder.DIMENSIONS), dtype=np.float32)
    for i, text in enumerate(texts):
        vector = shipped.get(text)
        out[i] = fresh[text] if vector is None else vector
    return out


def build(path: Path = ARTIFACT_PATH) -> int:
    """Encode every message of the data files and write the artifact; return how many messages it holds."""
    texts = sorted(
        {text for path in DATA_PATHS for text in _texts(path)}
        | {without_identifiers(text) for path in READ_WITHOUT_IDENTIFIERS for text in _texts(path)}
    )
    vectors = encoder.encode(texts).astype(np.float16)
    np.savez_compressed(path, texts=np.array(texts), vectors=vectors, digest=np.array(data_digest()))
    return len(texts)


def _texts(path: Path) -> list[str]:
    """The messages of one JSON-lines data file (the router's `load_examples` reads the same lines, labels too)."""
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":
    print(f"{build()} messages encoded into {ARTIFACT_PATH}")
