"""`galcore train`: fine-tune a classifier in three stages (alone or under horovodrun)."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_run, add_workspace, command_parser, stage_epochs

__all__ = ["train_command", "train_command_parser"]


def train_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore train``."""
    parser = command_parser(
        subparsers,
        "train",
        "Train a new run: backbone frozen, then partly, then almost fully unfrozen. Run it "
        "under 'horovodrun -np N' to train on N workers.",
    )
    add_workspace(parser)
    add_run(parser)
    parser.add_argument(
        "--profile",
        help="test (seconds), demo (minutes on a CPU), transfer (ImageNet Xception at 96 px, "
        "under 30 minutes on a CPU) or paper (Xception, 299 px); default demo",
    )
    parser.add_argument(
        "--backbone",
        help="xception (the paper's), inceptionv3, resnet50, vgg16, mobilenetv2 (ImageNet "
        "networks, as the paper's Fig. 3) or compact (a small CNN); default: the profile's",
    )
    parser.add_argument(
        "--weights", help="override the backbone weights: imagenet, none or a local .h5 file"
    )
    parser.add_argument(
        "--epochs", type=stage_epochs, metavar="N,N,N", help="override the epochs of each stage"
    )
    parser.add_argument(
        "--mixed-precision",
        nargs="?",
        const="auto",
        choices=("auto", "mixed_float16", "mixed_bfloat16"),
        metavar="POLICY",
        help="compute the backbone in mixed precision (the head stays float32): mixed_float16"
        " (GPUs), mixed_bfloat16 (CPUs with bfloat16) or, without a value, the one for this"
        " machine",
    )
    parser.add_argument("--seed", type=int, help="seed of weights, order, augmentation; default 0")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run --run (killed or failed) from its last finished epoch,"
        " with its own settings",
    )
    parser.set_defaults(func=train_command)
    return parser


def train_command(args: argparse.Namespace) -> int:
    """Run ``galcore train``."""
    from galcore.errors import TrainingError
    from galcore.training import TrainConfig, mixed_precision_policy, train

    precision = args.mixed_precision
    if precision == "auto":
        precision = mixed_precision_policy()
    settings = {"profile": args.profile, "backbone": args.backbone, "weights": args.weights}
    settings |= {"epochs": args.epochs, "precision": precision, "seed": args.seed}
    if args.resume:
        flags = {"precision": "mixed-precision"}
        given = [f"--{flags.get(k, k)}" for k, value in settings.items() if value is not None]
        if given:
            msg = f"--resume continues with the run's own settings; drop {', '.join(given)}"
            raise TrainingError(msg)
        config = TrainConfig.of_run(args.workspace, args.run)
    else:
        settings["profile"] = args.profile or "demo"
        settings["seed"] = args.seed or 0
        config = TrainConfig.from_profile(args.workspace, args.run, **settings)
    result = train(config, resume=args.resume)
    if result.rank == 0:
        print(
            f"trained run {result.run} on {result.size} worker(s) in {result.wall_time_s:.0f} s:"
            f" epochs {result.stage_epochs}, val_accuracy {result.val_accuracy:.4f}"
            f" (stage {result.best_stage}), model {result.model_path}"
        )
    return 0
