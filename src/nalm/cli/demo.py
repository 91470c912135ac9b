"""``nalm demo``: the seed's units against an MLP on four formulas
(:func:`~nalm.app.demo.run_demo`)."""

from __future__ import annotations

import argparse

from .common import add_common, common

SUMMARY = "the main job: units against an MLP on four formulas"
DESCRIPTION = (
    "Learn addition, subtraction, multiplication and the seed's NALU formula "
    "with the seed's units and an MLP, then test far outside the training range."
)


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """The flags of ``nalm demo``."""
    demo.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps per formula (default: each formula's own, 4000-10000)",
    )
    add_common(demo)


def run(args: argparse.Namespace) -> int:
    """Run ``nalm demo``; returns the exit status."""
    from ..app.demo import run_demo

    run_demo(steps=args.steps, **common(args))
    return 0
