"""``nalm fit``: learn a formula from a CSV table with :func:`nalm.fitting.run_fit`."""

from __future__ import annotations

import argparse
from typing import Any

from ..fitting import DEFAULT_UNITS, fit_candidates, run_fit
from .common import Extend, add_common, default, names


def add_parser(sub: Any) -> None:
    """Add ``nalm fit`` to the subcommands ``sub``."""
    fit_cmd = sub.add_parser(
        "fit",
        help="learn a formula from a CSV table and print it",
        description="Train arithmetic units on the rows of a CSV file (header line first), read "
        "each one's weights back as a formula, and keep the one that fits best.",
    )
    fit_cmd.add_argument("data", help="CSV file with a header; columns are inputs or the target")
    fit_cmd.add_argument("--target", required=True, help="the column to predict")
    fit_cmd.add_argument("--test", help="a second CSV file (e.g. far outside the data) to test on")
    which = fit_cmd.add_mutually_exclusive_group()
    which.add_argument("--unit", help="one model spec: a unit name or FIRST>SECOND")
    which.add_argument(
        "--try-units",
        type=names,
        action=Extend,
        help=f"comma-separated model specs, repeatable (default {','.join(DEFAULT_UNITS)})",
    )
    fit_cmd.add_argument(
        "--exclude",
        type=names,
        action=Extend,
        default=(),
        help="columns that are not inputs (comma-separated, repeatable)",
    )
    steps, seeds, hidden = (default(fit_candidates, k) for k in ("steps", "seeds", "hidden"))
    fit_cmd.add_argument("--steps", type=int, default=steps, help=f"Adam steps (default {steps})")
    fit_cmd.add_argument(
        "--seeds", type=int, default=seeds, help=f"seeds per unit (default {seeds})"
    )
    fit_cmd.add_argument("--lr", type=float, help="learning rate (default 0.05; 1e-3 for an MLP)")
    fit_cmd.add_argument(
        "--hidden", type=int, default=hidden, help=f"width of FIRST>SECOND (default {hidden})"
    )
    batch, tolerance = default(fit_candidates, "batch_size"), default(fit_candidates, "tolerance")
    fit_cmd.add_argument("--batch-size", type=int, default=batch, help=f"default {batch}")
    fit_cmd.add_argument(
        "--tolerance",
        type=float,
        default=tolerance,
        help=f"weight snapping tolerance (default {tolerance})",
    )
    add_common(fit_cmd)


def run(args: argparse.Namespace) -> int:
    """Run ``nalm fit``; returns the exit status."""
    units = [args.unit] if args.unit else list(args.try_units or DEFAULT_UNITS)
    run_fit(
        args.data,
        args.target,
        test=args.test,
        units=units,
        exclude=args.exclude,
        out=args.out,
        steps=args.steps,
        seeds=args.seeds,
        first_seed=args.seed,
        lr=args.lr,
        hidden=args.hidden,
        batch_size=args.batch_size,
        tolerance=args.tolerance,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0
