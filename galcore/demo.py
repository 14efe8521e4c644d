"""The demo: synthetic sky, curation, training, prediction, embedding and metrics in one go."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from galcore.errors import TrainingError
from store import StoreNotFoundError, Workspace

__all__ = ["DemoConfig", "run_demo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo.

    Attributes
    ----------
    seed
        Seed of the sky, the sets and the training.
    n_sdss, n_des
        Galaxies in the SDSS and DES catalogs of the synthetic sky.
    size
        Side of the curated images in pixels.
    profile
        Training profile.
    run
        Name of the demo's run.
    workers
        Processes for curation.
    """

    seed: int = 0
    n_sdss: int = 6000
    n_des: int = 6750
    size: int = 64
    profile: str = "demo"
    run: str = "demo"
    workers: int = 2


def _steps(
    space: Workspace, config: DemoConfig
) -> list[tuple[str, Callable[[], bool], Callable[[], object]]]:
    """(name, is it done already?, do it) for every step of the demo, in order."""
    from galcore.curation import CurationConfig, SurveyInputs, curate_catalog
    from galcore.embedding import embed_run
    from galcore.evaluation import evaluate_run
    from galcore.inference import predict
    from galcore.sky import make_sky
    from galcore.training import TrainConfig, train

    sky = space.root / "sky"

    def has(array: str) -> Callable[[], bool]:
        return lambda: _run_has(space, config.run, array)

    curation = CurationConfig(size=config.size, seed=config.seed, workers=config.workers)
    training = TrainConfig.from_profile(
        space.root, config.run, profile=config.profile, seed=config.seed
    )
    return [
        (
            "sky",
            lambda: (sky / "truth.csv").is_file(),
            lambda: make_sky(sky, seed=config.seed, n_sdss=config.n_sdss, n_des=config.n_des),
        ),
        (
            "curate",
            space.catalog_path.exists,
            lambda: curate_catalog(SurveyInputs.from_sky(sky), space.root, config=curation),
        ),
        ("train", lambda: _trained(space, config.run), lambda: train(training)),
        ("predict", has("probs"), lambda: predict(space.root, config.run)),
        ("embed", has("embedding"), lambda: embed_run(space.root, config.run, seed=config.seed)),
        ("evaluate", lambda: False, lambda: evaluate_run(space.root, config.run)),
    ]


def _trained(space: Workspace, run: str) -> bool:
    """Whether the run finished training; an unfinished one cannot be resumed."""
    if not space.catalog_path.exists() or run not in space.catalog(mode="r").runs():
        return False
    status = space.catalog(mode="r").run(run).attrs.get("status")
    if status != "trained":
        msg = (
            f"run {run!r} in {space.root} did not finish training (status {status!r});"
            f" delete the workspace {space.root} and run the demo again"
        )
        raise TrainingError(msg)
    return True


def _run_has(space: Workspace, run: str, array: str) -> bool:
    """Whether the run exists and holds `array`."""
    try:
        return space.catalog(mode="r").run(run).has(array)
    except StoreNotFoundError:
        return False


def run_demo(workspace: Path, *, config: DemoConfig | None = None) -> dict[str, dict[str, float]]:
    """Build a demo workspace step by step, skipping the steps that are done already.

    Parameters
    ----------
    workspace
        The workspace folder (created if needed).
    config
        Sizes of the demo; the defaults by default.

    Returns
    -------
    dict
        The run's Table II metrics (`galcore.evaluation.evaluate_run`).
    """
    config = config or DemoConfig()
    space = Workspace(workspace)
    space.root.mkdir(parents=True, exist_ok=True)
    steps = _steps(space, config)
    began = time.monotonic()
    for number, (name, done, do) in enumerate(steps, start=1):
        if done():
            logger.info("demo step %d/%d %s: done already", number, len(steps), name)
            continue
        logger.info("demo step %d/%d %s ...", number, len(steps), name)
        step_began = time.monotonic()
        result = do()
        logger.info(
            "demo step %d/%d %s: %.0f s", number, len(steps), name, time.monotonic() - step_began
        )
    logger.info("demo finished in %.0f s", time.monotonic() - began)
    return result
