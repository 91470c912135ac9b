"""``nalm units``: the registered units, their operations, parameters and policies."""

from __future__ import annotations

import argparse
from typing import Any

from ..reporting import UNIT_COLUMNS, markdown_table, table, units_overview
from ..train import POLICIES


def add_parser(sub: Any) -> None:
    """Add ``nalm units`` to the subcommands ``sub``."""
    units = sub.add_parser(
        "units",
        help="list the units: operations, sign, parameters, policy, paper",
        description="The registered units: what exact weights can compute, whether negative "
        "inputs keep their sign, their parameters, the training policy their paper used.",
    )
    units.add_argument("--markdown", action="store_true", help="print a Markdown table")


def run(args: argparse.Namespace) -> int:
    """Print the units (and the policies, unless ``--markdown``); returns the exit status."""
    rows = units_overview()
    print(markdown_table(UNIT_COLUMNS, rows) if args.markdown else table(UNIT_COLUMNS, rows))
    if not args.markdown:
        print("\npolicies:")
        for name, policy in POLICIES.items():
            print(f"  {name:<11} {policy.describe()}")
    return 0
