"""The ``nalm`` command: one module per subcommand, each a parser and a call into the library.

Each of :mod:`~nalm.cli.train`, :mod:`~nalm.cli.fit`, :mod:`~nalm.cli.units`,
:mod:`~nalm.cli.demo`, :mod:`~nalm.cli.bench` and :mod:`~nalm.cli.reproduce` defines
``add_parser(sub)`` and ``run(args) -> int``; this module assembles the parser, gives every
command and subcommand ``--import MODULE_OR_FILE`` (loaded by :func:`nalm.units.imports.load`
before the command runs), checks the arguments (:func:`check_arguments`) and turns a refusal
into one line and exit status 2.

Example:
    >>> args = build_parser().parse_args(["train", "--unit", "nau", "--target", "x0 + x1"])
    >>> args.command, args.unit, args.steps, args.baseline_hidden
    ('train', 'nau', None, (64, 64))
"""

from __future__ import annotations

import argparse
import io
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

from .. import runs
from ..errors import NalmError
from ..training import TrainSetup, formula_line, results_table
from ..units import imports
from . import bench, common, demo, fit, reproduce, train, units
from .common import Parser, check_arguments
from .train import prepare_train

__all__ = [
    "TrainSetup",
    "build_parser",
    "check_arguments",
    "formula_line",
    "main",
    "prepare_train",
    "results_table",
]

# the subcommands in the order 'nalm --help' lists them
COMMANDS: dict[str, ModuleType] = {
    "train": train,
    "fit": fit,
    "units": units,
    "demo": demo,
    "bench": bench,
    "reproduce": reproduce,
}


def build_parser() -> Parser:
    """The ``nalm`` parser with every subcommand."""
    parser = Parser(
        prog="nalm",
        description="Neural arithmetic units that learn formulas and keep them far outside "
        "the training range.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    for leaf in common.leaf_parsers(parser):
        common.add_import(leaf)
    return parser


_DASH_VALUE_FLAGS = (
    "--target",
    "--ramp",
    "--train-range",
    "--test-range",
    "--ranges",
    "--extrapolation-range",
    "--sequence-train-range",
    "--sequence-extrapolation-range",
)


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    """``--test-range -6,-2|2,6`` → ``--test-range=-6,-2|2,6`` (and ``--target -x0``): argparse
    would read a value that starts with '-' as an option."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        following = args[i + 1] if i + 1 < len(args) else ""
        if args[i] in _DASH_VALUE_FLAGS and following[:1] == "-" and following[:2] != "--":
            out.append(f"{args[i]}={args[i + 1]}")
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out


def _sigterm_as_interrupt() -> None:
    """SIGTERM (``kill``, ``timeout``, job schedulers) stops a command as Ctrl-C does: the same
    message and resume hint, exit status 130."""
    if threading.current_thread() is threading.main_thread():  # only there can it be set
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _watched(args: argparse.Namespace) -> AbstractContextManager[Any]:
    """``--tensorboard DIR`` (train, fit, bench run): the command's evaluations written there;
    without the flag, nothing (:func:`nalm.train.watch.tensorboard` of ``None``)."""
    from ..train.watch import tensorboard

    return tensorboard(getattr(args, "tensorboard", None))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nalm`` command; returns the exit status.

    Example:
        >>> main(["train", "--steps", "0"])
        2
    """
    _sigterm_as_interrupt()
    for stream in (sys.stdout, sys.stderr):  # a terminal without Unicode: −, ×, → escaped
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_join_dash_values(argv))
    try:
        with runs.refusal_cleanup():
            imports.load(getattr(args, "imports", None) or ())
            check_arguments(args)
            with _watched(args):
                return COMMANDS[args.command].run(args)
    except NalmError as e:
        print(f"nalm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnalm: interrupted; {runs.resume_hint()}", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as e:  # the disk, not the input: full, removed, read-only
        print(f"nalm: error: {runs.write_error(e)}; {runs.resume_hint()}", file=sys.stderr)
        return 1


# the private names of the one-module cli, kept for callers from before the package
_Parser, _common, _hidden, _names, _option = (
    Parser,
    common.add_common,
    common.hidden_sizes,
    common.names,
    common.option,
)
_policy = train.policy
