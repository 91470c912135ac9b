"""``nalm fit``: learn a formula from a CSV table with :func:`nalm.app.fit.run_fit`."""

from __future__ import annotations

import argparse

from .common import Extend, add_common, add_tensorboard, default, names, shown

SUMMARY = "find the law a CSV table follows and print it"
DESCRIPTION = (
    "Search for the law the rows of a CSV file (header line first) follow: "
    "sums, products, powers and constants, the simplest families first, each trained with "
    "many seeds and read back as a formula, until one is exact on rows held back from "
    "training. With --unit or --try-units, train those model specs instead and keep the "
    "one whose formula fits best."
)
_SAME_NAME = [
    "test",
    "exclude",
    "out",
    "device",
    "steps",
    "seeds",
    "lr",
    "hidden",
    "batch_size",
    "tolerance",
    "budget",
]
"""The arguments of :func:`~nalm.app.fit.run_fit` that flags of the same name give: the files,
the output and the device, then the training settings (:class:`~nalm.app.fit.FitSettings`)."""


def add_arguments(fit_cmd: argparse.ArgumentParser) -> None:
    """The flags of ``nalm fit``."""
    from ..fitting import DEFAULT_UNITS, find_law

    fit_cmd.add_argument("data", help="CSV file with a header; columns are inputs or the target")
    fit_cmd.add_argument("--target", required=True, help="the column to predict")
    fit_cmd.add_argument("--test", help="a second CSV file (e.g. far outside the data) to test on")
    which = fit_cmd.add_mutually_exclusive_group()
    which.add_argument(
        "--unit", help="instead of the search: one model spec, a unit name or FIRST>SECOND"
    )
    which.add_argument(
        "--try-units",
        type=names,
        action=Extend,
        help="instead of the search: comma-separated model specs, repeatable (e.g. "
        f"{','.join(DEFAULT_UNITS)})",
    )
    budget = default(find_law, "budget")
    fit_cmd.add_argument(
        "--budget",
        type=float,
        default=budget,
        metavar="SECONDS",
        help=f"the search's time limit; families not started by then are skipped (default "
        f"{shown(budget)})",
    )
    fit_cmd.add_argument(
        "--exclude",
        type=names,
        action=Extend,
        default=(),
        help="columns that are not inputs (comma-separated, repeatable)",
    )
    _add_training_flags(fit_cmd)
    add_common(fit_cmd)
    add_tensorboard(fit_cmd)


def _add_training_flags(fit_cmd: argparse.ArgumentParser) -> None:
    """The training settings: the search's and the named units' defaults side by side."""
    from ..fitting import find_law, fit_candidates

    steps, seeds, hidden = (default(fit_candidates, k) for k in ("steps", "seeds", "hidden"))
    law_steps, law_seeds, law_lr = (default(find_law, k) for k in ("steps", "seeds", "lr"))
    fit_cmd.add_argument(
        "--steps",
        type=int,
        help=f"Adam steps per family (default {shown(law_steps)}) or per unit (default "
        f"{shown(steps)})",
    )
    fit_cmd.add_argument(
        "--seeds",
        type=int,
        help=f"seeds per family (default {law_seeds}) or per unit (default {seeds})",
    )
    fit_cmd.add_argument(
        "--lr",
        type=float,
        help=f"learning rate (default {shown(law_lr)} in the search; 0.05 per unit, 1e-3 for an "
        "MLP)",
    )
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


def run(args: argparse.Namespace) -> int:
    """Run ``nalm fit``; returns the exit status."""
    from ..app.fit import run_fit

    units = [args.unit] if args.unit else list(args.try_units or ())
    given = {name: getattr(args, name) for name in _SAME_NAME}
    progress = not args.no_progress
    run_fit(args.data, args.target, units=units, first_seed=args.seed, progress=progress, **given)
    return 0
