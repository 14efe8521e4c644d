"""3-D t-SNE of the penultimate-layer features (openTSNE, Barnes-Hut)."""

from __future__ import annotations

import logging
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galcore.engine import DEFAULT_BLOCK_ROWS, Engine, file_identity, loaded_once, run_tasks
from galcore.errors import NotFittedError, TrainingError
from store import RowBlocks, Workspace

if TYPE_CHECKING:
    from store import Run

__all__ = ["MAP_FILE", "EmbedSummary", "TSNEEmbedder", "embed_run", "place_block"]

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
        threads = int(os.environ.get("OMP_NUM_THREADS", "-1"))  # a Dask worker's share
        self._embedding.affinities.n_jobs = threads
        self._embedding.gradient_descent_params["n_jobs"] = threads
        return np.asarray(self._embedding.transform(self._reduce(features)), dtype=np.float32)

    def _reduce(self, features: np.ndarray) -> np.ndarray:
        """Project onto the fitted principal components."""
        return (np.asarray(features, dtype=np.float32) - self.mean_) @ self.components_.T


MAP_FILE = "tsne-map.pkl"
"""The fitted map in a run's model folder: what `embed_run` places new rows into."""


@dataclass(frozen=True)
class EmbedSummary:
    """What `embed_run` wrote: objects in the map, those fitted, those placed into it."""

    run: str
    n_embedded: int
    n_fitted: int
    n_placed: int


def embed_run(
    workspace: Path,
    run: str,
    *,
    perplexity: float = 30.0,
    fit_size: int = 5000,
    seed: int = 0,
    add: bool = False,
    engine: Engine | None = None,
    resume: bool = False,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> EmbedSummary:
    """Embed a run's features in 3-D and store the coordinates as the run's ``embedding``.

    Up to `fit_size` random objects fit the map (Barnes-Hut, in this process); the map is
    saved in the run's model folder, and tasks of `block_rows` rows place every other object
    into it and write their rows themselves (`store.RowBlocks`). With `add`, nothing is
    refitted: only objects with features and no coordinates yet (rows added by ``galcore
    curate --add``, then predicted) are placed into the saved map.

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
    add
        Place the objects without coordinates into the saved map instead of refitting.
    engine
        The Dask cluster to place the blocks on; None: one after another in this process.
    resume
        Continue an embedding that stopped, with its saved map, placing only the blocks it
        had not written.
    block_rows
        Catalog rows per task.

    Returns
    -------
    EmbedSummary
        How many objects the map holds, and how many were fitted and placed now.

    Raises
    ------
    StoreNotFoundError
        If the run has no predictions (``galcore predict`` writes them).
    TrainingError
        If `add` finds no saved map.
    """
    space = Workspace(workspace)
    catalog = space.catalog()
    target = catalog.run(run)
    has_features = np.isfinite(target.read("probs")).all(axis=1)
    map_file = space.model_dir(run) / MAP_FILE
    began = time.monotonic()
    if add:
        if not map_file.is_file() or not target.has("embedding"):
            msg = f"run {run!r} has no t-SNE map yet; run 'galcore embed' without --add first"
            raise TrainingError(msg)
        embedded = np.isfinite(target.read("embedding")).all(axis=1)
        n_fitted, to_place = 0, has_features & ~embedded
        logger.info(
            "t-SNE: placing %d rows added since into the map of run %s, without refitting",
            to_place.sum(),
            run,
        )
    else:
        if not (resume and map_file.is_file()):
            _fit_map(target, np.flatnonzero(has_features), map_file, perplexity, fit_size, seed)
        fitted_rows = loaded_once(map_file, _load_map).rows_
        n_fitted, to_place = len(fitted_rows), has_features.copy()
        to_place[fitted_rows] = False
    stamp = {"map": file_identity(map_file)[1:], "add": add}
    blocks = RowBlocks.open(
        target.path, {"embedding": 3}, len(catalog), block_rows, stamp=stamp, resume=resume
    )
    pending = blocks.pending()
    tasks = [(space.root, run, start, map_file, blocks, add) for start, _ in pending]
    total = sum(int(to_place[start:stop].sum()) for start, stop in pending)
    run_tasks(engine, place_block, tasks, what=f"embed {run}", total=total)
    blocks.finish()
    n = int(has_features.sum())
    target.update_attrs(embedded={"n": n, "fitted": n_fitted, "perplexity": perplexity})
    logger.info("t-SNE: %d points in %.0f s", n, time.monotonic() - began)
    return EmbedSummary(run, n, n_fitted, int(to_place.sum()))


def place_block(
    root: Path, run: str, start: int, map_file: Path, blocks: RowBlocks, add: bool
) -> int:
    """Write one block's coordinates: fitted, placed into the map, or kept (a task).

    Returns
    -------
    int
        Objects placed into the map in the block.
    """
    target = Workspace(root).catalog(mode="r").run(run)
    stop = min(start + blocks.block_rows, blocks.n_rows)
    features = target.read_rows("features", slice(start, stop))
    has_features = np.isfinite(features).all(axis=1)
    embedder = loaded_once(map_file, _load_map)
    if add:
        coordinates = target.read_rows("embedding", slice(start, stop))
        place = has_features & ~np.isfinite(coordinates).all(axis=1)
    else:
        coordinates = np.full((stop - start, 3), np.nan, dtype=np.float32)
        fitted = (embedder.rows_ >= start) & (embedder.rows_ < stop)
        coordinates[embedder.rows_[fitted] - start] = embedder.embedding_[fitted]
        place = has_features & np.isnan(coordinates).any(axis=1)
    if place.any():
        coordinates[place] = embedder.transform(features[place])
    blocks.write(start, {"embedding": coordinates})
    return int(place.sum())


def _fit_map(
    target: Run, rows: np.ndarray, map_file: Path, perplexity: float, fit_size: int, seed: int
) -> None:
    """Fit the map on a random sample of `rows` and save it (atomically) at `map_file`."""
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(rows, size=min(fit_size, len(rows)), replace=False))
    logger.info("t-SNE: fitting %d points in 3-D (Barnes-Hut)", len(fit_rows))
    features = target.read_rows("features", fit_rows)
    embedder = TSNEEmbedder(perplexity=perplexity, random_state=seed).fit(features)
    embedder.rows_ = fit_rows
    map_file.parent.mkdir(parents=True, exist_ok=True)
    partial = map_file.with_name(f".{map_file.name}.partial")
    with partial.open("wb") as out:
        pickle.dump(embedder, out, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(map_file)


def _load_map(path: Path) -> TSNEEmbedder:
    """Load a map saved by `embed_run` (the project's own pickle)."""
    with path.open("rb") as saved:
        return pickle.load(saved)  # noqa: S301 - the project's own file
