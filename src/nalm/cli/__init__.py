"""The ``nalm`` command: one module per subcommand, each a parser and a call into the library.

Each of :mod:`~nalm.cli.train`, :mod:`~nalm.cli.fit`, :mod:`~nalm.cli.units`,
:mod:`~nalm.cli.demo`, :mod:`~nalm.cli.bench` and :mod:`~nalm.cli.reproduce` defines
``SUMMARY`` (its line in ``nalm --help``), ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args) -> int``, and
imports torch and the rest of the library only inside them: the command builds the parser of
the one subcommand it is given (:func:`build_parser`), so ``nalm --help`` and
``nalm train --help`` start without torch. This module assembles the parser, gives every
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
from contextlib import AbstractContextManager, nullcontext
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..app import runs
from ..errors import NalmError
from ..lazy import names
from . import common
from .common import Parser, check_arguments

if TYPE_CHECKING:
    from ..app.training import TrainSetup, formula_line, results_table
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

# the subcommands in the order 'nalm --help' lists them (each the module of the same name)
COMMANDS = ("train", "fit", "units", "demo", "bench", "reproduce")

# names of this package from before the commands were loaded on demand, each from its module
# on first use (as are the subcommands' modules, `nalm.cli.train`…)
__getattr__, __dir__ = names(
    __name__,
    __all__,
    {
        "TrainSetup": "nalm.app.training",
        "formula_line": "nalm.app.training",
        "results_table": "nalm.app.training",
        "prepare_train": "train",
    },
)


def command(name: str) -> ModuleType:
    """The module of the subcommand ``name`` (:data:`COMMANDS`), imported on first use."""
    return import_module(f"{__name__}.{name}")


def build_parser(only: str | None = None) -> Parser:
    """The ``nalm`` parser with every subcommand; with ``only``, that subcommand's whole parser
    and the others' names and one-line help (what ``nalm --help`` shows), so that a command
    imports only its own part of the library (``only=""``: none whole)."""
    parser = Parser(
        prog="nalm",
        description="Neural arithmetic units that learn formulas and keep them far outside "
        "the training range.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        module = command(name)
        if only is None or name == only:
            whole = sub.add_parser(name, help=module.SUMMARY, description=module.DESCRIPTION)
            module.add_arguments(whole)
        else:
            sub.add_parser(name, help=module.SUMMARY)
    for leaf in common.leaf_parsers(parser):
        common.add_import(leaf)
    return parser


def _command_named(argv: Sequence[str]) -> str:
    """The subcommand ``argv`` names (its first word that is one), or ``""``."""
    return next((a for a in argv if a in COMMANDS), "")


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


def _load_imports(names: Sequence[str]) -> None:
    """``--import``: the user's modules and files, before the command runs (the units
    package, and with it torch, only when there is one)."""
    if names:
        from ..units import imports

        imports.load(names)


def _sigterm_as_interrupt() -> None:
    """SIGTERM (``kill``, ``timeout``, job schedulers) stops a command as Ctrl-C does: the same
    message and resume hint, exit status 130."""
    if threading.current_thread() is threading.main_thread():  # only there can it be set
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _watched(args: argparse.Namespace) -> AbstractContextManager[Any]:
    """``--tensorboard DIR`` (train, fit, bench run): the command's evaluations written there
    (:func:`nalm.train.watch.tensorboard`); without the flag, nothing, and the engine is not
    imported for it."""
    if getattr(args, "tensorboard", None) is None:
        return nullcontext()
    from ..train.watch import tensorboard

    return tensorboard(args.tensorboard)


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
    argv = _join_dash_values(argv)
    args = build_parser(only=_command_named(argv)).parse_args(argv)
    try:
        with runs.refusal_cleanup():
            _load_imports(getattr(args, "imports", None) or ())
            check_arguments(args)
            with _watched(args):
                return command(args.command).run(args)
    except NalmError as e:
        print(f"nalm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnalm: interrupted; {runs.resume_hint()}", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as e:  # the disk, not the input: full, removed, read-only
        print(f"nalm: error: {runs.write_error(e)}; {runs.resume_hint()}", file=sys.stderr)
        return 1
