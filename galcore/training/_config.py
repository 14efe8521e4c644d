"""What a training run is given and what it gives back: `TrainConfig`, `TrainResult`, files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from galcore.training._profiles import Profile, get_profile
from store import Workspace

__all__ = ["CONFIG_FILE", "HISTORY_FILE", "MODEL_FILE", "TrainConfig", "TrainResult"]


MODEL_FILE = "model.keras"
"""The trained model (without optimizer) in ``Workspace.model_dir(run)``."""
HISTORY_FILE = "history.json"
"""Per-stage Keras history in ``Workspace.model_dir(run)``."""
CONFIG_FILE = "config.json"
"""The run's `TrainConfig` in ``Workspace.model_dir(run)``."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; `from_profile` builds one from a named profile.

    Parameters
    ----------
    workspace
        The workspace folder with the catalog.
    run
        Name of the new run.
    profile
        The schedule's values (the profile name is ``profile.name``).
    seed
        Seed of the weights, the data order and the augmentation.
    parent
        The run this one was derived from (recursive training), if any.
    ledger_state
        The review-ledger state whose decisions the training labels include, if any.
    """

    workspace: Path
    run: str
    profile: Profile
    seed: int = 0
    parent: str | None = None
    ledger_state: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", Path(self.workspace))

    @classmethod
    def from_profile(
        cls,
        workspace: Path | str,
        run: str,
        *,
        profile: str = "demo",
        backbone: str | None = None,
        weights: str | None = None,
        epochs: tuple[int, ...] | None = None,
        image_size: int | None = None,
        precision: str | None = None,
        seed: int = 0,
        parent: str | None = None,
        ledger_state: int | None = None,
    ) -> TrainConfig:
        """Return the config of a named profile, with some of its values overridden.

        Parameters
        ----------
        workspace
            The workspace folder with the catalog.
        run
            Name of the new run.
        profile
            A key of `PROFILES`: ``"test"``, ``"demo"``, ``"transfer"`` or ``"paper"``.
        backbone, weights, epochs, image_size, precision
            Replace the profile's value when given (`weights`: ``"imagenet"``, ``"none"`` or a
            path; `epochs`: one count per stage; `precision`: one of `PRECISIONS`).
        seed, parent, ledger_state
            As in `TrainConfig`.

        Returns
        -------
        TrainConfig
            The config.

        Raises
        ------
        TrainingError
            If the profile is not known or an override is out of range.
        """
        overrides = {
            "backbone": backbone,
            "weights": weights,
            "epochs": epochs,
            "image_size": image_size,
            "precision": precision,
        }
        values = replace(
            get_profile(profile), **{k: v for k, v in overrides.items() if v is not None}
        )
        return cls(Path(workspace), run, values, seed, parent, ledger_state)

    @classmethod
    def of_run(cls, workspace: Path | str, run: str) -> TrainConfig:
        """Return the config a run was trained with (from its ``config`` attribute).

        Raises
        ------
        StoreNotFoundError
            If the workspace has no catalog or the catalog no such run.
        """
        values = dict(Workspace(workspace).catalog(mode="r").run(run).attrs["config"])
        values["workspace"] = Path(workspace)
        values["profile"] = Profile.from_dict(values["profile"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as JSON-ready values.

        Returns
        -------
        dict
            Plain values (the workspace as a string, the profile as a nested dict).
        """
        values = asdict(self)
        values["workspace"] = str(self.workspace)
        values["profile"]["epochs"] = list(self.profile.epochs)
        return values


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced, identical on every worker.

    Parameters
    ----------
    run
        The run's name.
    model_path
        The saved ``model.keras``.
    stage_epochs
        Epochs each stage ran (early stopping may end a stage before its maximum).
    history
        Keras history (metric -> per-epoch values) of each stage.
    val_loss, val_accuracy
        Validation metrics of the best epoch of all stages.
    best_stage
        The stage of that epoch.
    averaged_epochs
        How many of the best epochs' weights the model's are the mean of.
    wall_time_s
        Seconds from the start of `train` to the saved model.
    weights_sha256
        Digest of the final weights; every worker computes the same.
    rank, size
        This worker's rank and the number of workers.
    """

    run: str
    model_path: Path
    stage_epochs: tuple[int, ...]
    history: tuple[dict[str, list[float]], ...]
    val_loss: float
    val_accuracy: float
    best_stage: int
    averaged_epochs: int
    wall_time_s: float
    weights_sha256: str
    rank: int
    size: int
