"""``nalm demo``: the seed's units against an MLP on four formulas
(:func:`~nalm.app.demo.run_demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_common

SUMMARY = "the main job: units against an MLP on four formulas"


def add_parser(sub: Any) -> None:
    """Add ``nalm demo`` to the subcommands ``sub``."""
    demo = sub.add_parser(
        "demo",
        help=SUMMARY,
        description="Learn addition, subtraction, multiplication and the seed's NALU formula "
        "with the seed's units and an MLP, then test far outside the training range.",
    )
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

    run_demo(
        steps=args.steps,
        seed=args.seed,
        out=args.out,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0
