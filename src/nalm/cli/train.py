"""``nalm train``: the flags of :class:`~nalm.app.training.TrainSettings`, then
:func:`~nalm.app.training.run_train` (or a seed preset)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any

from ..app.train_settings import SEED_PRESETS, TrainFlags
from .common import (
    Extend,
    add_common,
    add_tensorboard,
    common,
    default,
    hidden_sizes,
    option,
    shown,
    switch,
)

if TYPE_CHECKING:  # the parser is built without torch; the run imports what it needs
    import torch

    from ..app.training import TrainSettings, TrainSetup
    from ..train import Policy

SUMMARY = "train a unit model and an MLP baseline on a formula"
DESCRIPTION = (
    "Train a model of arithmetic units and an MLP baseline side by side on a "
    "formula, then compare them inside and far outside the training range."
)


def _default(name: str) -> Any:
    return default(TrainFlags, name)


def add_arguments(train: argparse.ArgumentParser) -> None:
    """The flags of ``nalm train``."""
    train.add_argument(
        "--preset",
        choices=sorted(SEED_PRESETS),
        help="run one of the seed code's demos with its own data and settings "
        "(ignores the task and model flags)",
    )
    _model_flags(train)
    _training_flags(train)
    _baseline_flags(train)
    _policy_flags(train)
    add_common(train)
    add_tensorboard(train)


def _model_flags(train: argparse.ArgumentParser) -> None:
    unit, target = _default("unit"), _default("target")
    train.add_argument(
        "--unit",
        default=unit,
        help=f"model spec (default {unit}): a unit or model name ('nalm units' lists them), "
        "FIRST>SECOND or a paper name; --layers repeats a single unit",
    )
    train.add_argument(
        "--target", default=target, help=f"formula over x0, x1, ... (default {target!r})"
    )
    for flag, name, text in (
        ("--train-range", "train_range", "e.g. 1,2 or -6,-2|2,6 (default {})"),
        ("--test-range", "test_range", "extrapolation range (default {})"),
    ):
        train.add_argument(flag, default=_default(name), help=text.format(_default(name)))
    train.add_argument(
        "--inputs", type=int, help="number of inputs (default: what the target uses)"
    )
    layers, hidden = _default("layers"), _default("hidden")
    train.add_argument(
        "--layers", type=int, default=layers, help=f"units stacked (default {layers})"
    )
    train.add_argument(
        "--hidden", type=int, default=hidden, help=f"width between layers (default {hidden})"
    )
    train.add_argument(
        "--option",
        type=option,
        action=Extend,
        default=(),
        metavar="KEY=VALUE",
        help="unit option, e.g. --option eps=1e-6 --option shared_weights=false",
    )
    switch(train, "--seed-init", "use the unit's seed preset (U[-2,2] init, N(0,1) gate, eps 1e-6)")


def _training_flags(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--steps",
        type=int,
        help=f"optimiser steps (default {_default('steps')}; a preset's own with --preset)",
    )
    lr = _default("lr")
    train.add_argument(
        "--lr", type=float, default=lr, help=f"Adam learning rate of the unit model (default {lr})"
    )
    for flag, name in (("--batch-size", "batch_size"), ("--eval-every", "eval_every")):
        train.add_argument(flag, type=int, default=_default(name), help=f"default {_default(name)}")
    size = _default("eval_size")
    train.add_argument(
        "--eval-size", type=int, default=size, help=f"rows in each evaluation set (default {size})"
    )


def _baseline_flags(train: argparse.ArgumentParser) -> None:
    baseline, sizes = _default("baseline"), _default("baseline_hidden")
    train.add_argument(
        "--baseline",
        choices=("mlp", "none"),
        default=baseline,
        help=f"train an MLP beside the unit model (default {baseline})",
    )
    train.add_argument(
        "--baseline-hidden",
        type=hidden_sizes,
        default=sizes,
        help=f"MLP hidden sizes (default {shown(sizes)})",
    )
    activation, lr = _default("baseline_activation"), _default("baseline_lr")
    train.add_argument(
        "--baseline-activation",
        default=activation,
        help=f"any torch.nn activation (default {activation})",
    )
    train.add_argument("--baseline-lr", type=float, default=lr, help=f"default {shown(lr)}")


def _policy_flags(train: argparse.ArgumentParser) -> None:
    auto = _default("policy")
    train.add_argument(
        "--policy",
        default=auto,
        metavar="POLICY",
        help=f"training policy of the unit model (default {auto}: the one its paper used; "
        "'nalm units' lists the others)",
    )
    train.add_argument(
        "--ramp",
        metavar="[LAMBDA,]START,END",
        help="regulariser ramp λ(t) = LAMBDA·clip((t−START)/(END−START), 0, 1), replacing the "
        "policy's (without LAMBDA: the policy's λ̂ over these steps)",
    )
    train.add_argument("--clip-value", type=float, help="clip gradients to ±VALUE")
    train.add_argument("--clip-norm", type=float, help="clip the gradient norm to VALUE")
    every = _default("checkpoint_every")
    train.add_argument(
        "--checkpoint-every",
        type=int,
        default=every,
        help=f"steps between checkpoints in the run directory (default {every}); run the same "
        "command with the same --out to resume",
    )
    train.add_argument(
        "--recover",
        nargs="?",
        type=int,
        const=3,
        default=_default("recover"),
        metavar="N",
        help="on a NaN/inf loss, go back to the last finite snapshot (taken at every checkpoint) "
        "with a 10x lower learning rate, up to N times (default 3 when given)",
    )


def settings(args: argparse.Namespace) -> TrainSettings:
    """The flags' values as :class:`~nalm.app.training.TrainSettings` (``None``: the default)."""
    from ..app.training import TrainSettings

    given = {
        field.name: getattr(args, "option" if field.name == "options" else field.name)
        for field in dataclasses.fields(TrainFlags)
    }
    given["options"] = tuple(given["options"])
    return TrainSettings(**{k: v for k, v in given.items() if v is not None})


def prepare_train(args: argparse.Namespace) -> TrainSetup:
    """The task, the unit model, the baseline and the policy of ``nalm train`` (every flag is
    checked here; nothing is trained or written)."""
    from ..app.training import prepare

    return prepare(settings(args))


def policy(args: argparse.Namespace, model: torch.nn.Module) -> Policy:
    """The unit model's policy: ``--policy`` (or the recommended one) with the flags' overrides."""
    from ..app.training import train_policy

    return train_policy(settings(args), model)


def run(args: argparse.Namespace) -> int:
    """Run ``nalm train``; returns the exit status."""
    from ..app.presets import run_seed_preset
    from ..app.training import run_train
    from ..train.policies import get_policy

    if args.preset:
        if args.policy != "auto":  # a preset ignores it, but a bad name is still refused
            get_policy(args.policy)  # (without a preset, TrainSettings.check resolves it)
        run_seed_preset(args.preset, steps=args.steps, **common(args))
        return 0
    run_train(settings(args), **common(args, seed=False))
    return 0
