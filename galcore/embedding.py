"""3-D t-SNE of the penultimate-layer features (openTSNE, Barnes-Hut)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from galcore.errors import NotFittedError, TrainingError
from store import Workspace

__all__ = ["TSNEEmbedder", "embed_run"]

logger = logging.getLogger(__name__)


class TSNEEmbedder:
    """t-SNE embedding that can place new points into a fitted map.

    The features are first reduced to `n_pca` principal components. openTSNE's Barnes-Hut
    gradient is always used: its FFT method (chosen automatically from 10,000 points) does not
    support 3-D.

    Parameters
    ----------
    n_components
        Dimensions of the embedding (2 or 3).
    perplexity
        t-SNE perplexity.
    n_pca
        Principal components kept before t-SNE.
    random_state
        Seed of the initialisation and optimisation.

    Examples
    --------
    >>> embedder = TSNEEmbedder(random_state=0).fit(features)  # doctest: +SKIP
    >>> embedder.embedding_.shape  # doctest: +SKIP
    (5000, 3)
    """

    def __init__(
        self,
        n_components: int = 3,
        perplexity: float = 30.0,
        n_pca: int = 50,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_pca = n_pca
        self.random_state = random_state

    def fit(self, features: np.ndarray) -> TSNEEmbedder:
        """Fit the embedding of `features` (n, d) and set `embedding_` (n, n_components).

        Raises
        ------
        TrainingError
            For bad parameters or too few points for the perplexity.
        """
        from openTSNE import TSNE

        features = np.asarray(features, dtype=np.float32)
        if self.n_components not in (2, 3):
            msg = f"n_components must be 2 or 3, got {self.n_components}"
            raise TrainingError(msg)
        if features.ndim != 2 or len(features) <= 3 * self.perplexity:
            msg = (
                f"t-SNE with perplexity {self.perplexity} needs more than"
                f" {3 * self.perplexity:.0f} points, got features of shape {features.shape}"
            )
            raise TrainingError(msg)
        self.mean_ = features.mean(axis=0)
        _, _, vt = np.linalg.svd(features - self.mean_, full_matrices=False)
        self.components_ = vt[: min(self.n_pca, len(vt))]
        tsne = TSNE(
            n_components=self.n_components,
            perplexity=self.perplexity,
            negative_gradient_method="bh",
            random_state=self.random_state,
            n_jobs=-1,
        )
        self._embedding = tsne.fit(self._reduce(features))
        self.embedding_ = np.asarray(self._embedding)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Place new points into the fitted embedding; the fitted points do not move."""
        if not hasattr(self, "embedding_"):
            msg = "This TSNEEmbedder instance is not fitted yet. Call 'fit' before 'transform'."
            raise NotFittedError(msg)
        return np.asarray(self._embedding.transform(self._reduce(features)))

    def _reduce(self, features: np.ndarray) -> np.ndarray:
        """Project onto the fitted principal components."""
        return (np.asarray(features, dtype=np.float32) - self.mean_) @ self.components_.T


def embed_run(
    workspace: Path,
    run: str,
    *,
    perplexity: float = 30.0,
    fit_size: int = 5000,
    seed: int = 0,
) -> np.ndarray:
    """Embed a run's features in 3-D and store the coordinates as the run's ``embedding``.

    Up to `fit_size` random objects fit the map; the others are placed into it.

    Parameters
    ----------
    workspace
        The workspace folder.
    run
        A run with ``features`` (written by ``galcore predict``).
    perplexity
        t-SNE perplexity.
    fit_size
        Most points used to fit the map.
    seed
        Seed of the sample and of t-SNE.

    Returns
    -------
    numpy.ndarray
        (N, 3) coordinates, NaN for objects without features.
    """
    catalog = Workspace(workspace).catalog()
    features = catalog.run(run).read("features")
    rows = np.flatnonzero(np.isfinite(features).all(axis=1))
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(rows, size=min(fit_size, len(rows)), replace=False))
    began = time.monotonic()
    logger.info("t-SNE: fitting %d points in 3-D (Barnes-Hut)", len(fit_rows))
    embedder = TSNEEmbedder(perplexity=perplexity, random_state=seed).fit(features[fit_rows])
    embedding = np.full((len(features), 3), np.nan, dtype=np.float32)
    embedding[fit_rows] = embedder.embedding_
    rest = np.setdiff1d(rows, fit_rows)
    if len(rest):
        logger.info("t-SNE: placing %d more points into the map", len(rest))
        embedding[rest] = embedder.transform(features[rest])
    catalog.run(run).write("embedding", embedding)
    logger.info("t-SNE: %d points in %.0f s", len(rows), time.monotonic() - began)
    return embedding
