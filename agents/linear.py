"""Softmax regression on dense unit vectors (the sentence heads of the router and of the action reader), in numpy.

Numpy only: scipy and scikit-learn cost seconds of import time on a chat host for models that train in a fraction
of one.
"""

from __future__ import annotations

import numpy as np

_DENSE_EPOCHS = 300
_DENSE_LEARNING_RATE = 30.0
_DENSE_L2 = 1e-4


def fit_dense_softmax(vectors: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit softmax regression on dense unit rows by full-batch gradient descent with momentum; return (W, b).

    Full batches make it deterministic; a large step suits unit vectors, whose coordinates are small."""
    n_rows = len(labels)
    targets = np.eye(n_classes, dtype=np.float32)[labels]
    weights = np.zeros((vectors.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    velocity_w = np.zeros_like(weights)
    velocity_b = np.zeros_like(bias)
    for _ in range(_DENSE_EPOCHS):
        gradient = (softmax(vectors @ weights + bias) - targets) / n_rows
        velocity_w = 0.9 * velocity_w - _DENSE_LEARNING_RATE * (vectors.T @ gradient + _DENSE_L2 * weights)
        velocity_b = 0.9 * velocity_b - _DENSE_LEARNING_RATE * gradient.sum(axis=0)
        weights += velocity_w
        bias += velocity_b
    return weights, bias


def softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)
