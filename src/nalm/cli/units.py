"""``nalm units``: the registered units, their operations, parameters and policies; and
``nalm units check NAME``: the unit contract run on one of them."""

from __future__ import annotations

import argparse

from .common import Extend, Parser, option

SUMMARY = "list the units: operations, sign, parameters, policy, paper"
DESCRIPTION = (
    "The registered units: what exact weights can compute, whether negative "
    "inputs keep their sign, their parameters, the training policy their paper used."
)


def add_arguments(units: argparse.ArgumentParser) -> None:
    """The flags of ``nalm units`` and ``nalm units check``."""
    units.add_argument("--markdown", action="store_true", help="print a Markdown table")
    actions = units.add_subparsers(dest="action", parser_class=Parser)
    checker = actions.add_parser(
        "check",
        help="run the unit contract on a unit: one line per check, exit status 1 on a failure",
        description="Build the unit and check it against the contract: shapes and dtypes, "
        "gradients, weights computed in forward, finite values at initialisation, "
        "reset_parameters, regularization, after_step, the many-seed engine, save/load, and a "
        "formula reader (a warning only). Exit status 0 when every required check passes.",
    )
    checker.add_argument("spec", metavar="NAME", help="a registered unit name, e.g. nau")
    checker.add_argument(
        "--in-features", type=int, default=3, help="inputs of the unit checked (default 3)"
    )
    checker.add_argument(
        "--out-features", type=int, default=2, help="outputs of the unit checked (default 2)"
    )
    checker.add_argument(
        "--option",
        type=option,
        action=Extend,
        default=(),
        metavar="KEY=VALUE",
        help="a constructor option of the unit, as for nalm train (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the units (and the policies, unless ``--markdown``), or check one; returns the exit
    status."""
    if getattr(args, "action", None) == "check":
        return _check(args)
    from ..models import ALIASES
    from ..reporting import UNIT_COLUMNS, markdown_table, table, units_overview
    from ..train import POLICIES

    rows = units_overview()
    print(markdown_table(UNIT_COLUMNS, rows) if args.markdown else table(UNIT_COLUMNS, rows))
    if not args.markdown:
        print("\nmodel names (for --models and --unit):")
        for name, spec in ALIASES.items():
            print(f"  {name:<11} {spec}")
        print("\npolicies:")
        for name, policy in POLICIES.items():
            print(f"  {name:<11} {policy.describe()}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """``nalm units check NAME``: one line per check; 0 when every required check passes."""
    from ..limits import check_size
    from ..units import check, registry

    cls = registry.get(args.spec)
    check_size(args.in_features, "--in-features")
    check_size(args.out_features, "--out-features")
    options = dict(args.option)
    registry.check_options(args.spec, options)
    report = check(
        cls, in_features=args.in_features, out_features=args.out_features, options=options
    )
    print(f"{args.spec} ({cls.__module__}.{cls.__qualname__}):")
    print(report)
    required = [r for r in report.results if r.required]
    failed = sum(not r.passed for r in required)
    warned = len(report.failures) - failed
    verdict = "passes" if report.passed else f"fails {failed} of"
    note = f"; {warned} warning{'s' * (warned != 1)}" if warned else ""
    print(f"{args.spec} {verdict} the {len(required)} required checks{note}")
    return 0 if report.passed else 1
