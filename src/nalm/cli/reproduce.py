"""``nalm reproduce``: the papers' experiments; each flag's default is its settings field's."""

from __future__ import annotations

import argparse
from typing import Any

from .common import Extend, Parser, common, default, hidden_sizes, names, shown, switch

SUMMARY = "reproduce published experiments: identity, table1, digits, product, words, programs"
DESCRIPTION = (
    "Reproduce a paper's experiment and write Markdown, CSV and PNG. The full "
    "settings are the defaults; --quick runs a smaller version in a few minutes. An "
    "interrupted run resumes when re-run with the same --out."
)

# (flag, type, help): "{}" in the help is the settings field's default
_Flag = tuple[str, Any, str]

_IDENTITY: tuple[_Flag, ...] = (
    ("--models", int, "models per activation (default {})"),
    ("--steps", int, "Adam steps (default {})"),
    ("--lr", float, "learning rate (default {})"),
    ("--batch-size", int, "default {}"),
    ("--activations", names, "comma-separated (default: the paper's 15)"),
    ("--units", names, "units drawn for contrast (default {})"),
    ("--hidden", hidden_sizes, "MLP hidden sizes (default {})"),
    ("--train-range", None, "default {}"),
    ("--test-range", None, "default {}"),
)
_TABLE1: tuple[_Flag, ...] = (
    ("--seeds", int, "seeds per model and operation (default {})"),
    ("--static-steps", int, "default {}"),
    ("--recurrent-steps", int, "default {}"),
    ("--lr", float, "Adam learning rate (default {})"),
    ("--batch-size", int, "default {}"),
)
_TABLE1_SIZES: tuple[_Flag, ...] = (
    ("--hidden", int, "hidden size of unit models (default {})"),
    ("--rnn-hidden", int, "LSTM/RNN hidden size (default {})"),
    ("--random-inits", int, "random models averaged in the score (default {})"),
    ("--train-range", None, "static training range (default {})"),
    ("--extrapolation-range", None, "static extrapolation range (default {})"),
    ("--train-length", int, "recurrent training length (default {})"),
    ("--extrapolation-length", int, "recurrent extrapolation length (default {})"),
    ("--sequence-train-range", None, "entries of recurrent inputs in training (default {})"),
    (
        "--sequence-extrapolation-range",
        None,
        "entries of recurrent inputs in extrapolation (default {})",
    ),
)
_SEQUENCE_HELP = {
    "digits": "count and sum handwritten digits in sequences of 1-1000 (Trask 4.2)",
    "product": "running product of handwritten digits 1-9, lengths 1-20 (Madsen)",
    "words": "numbers 0-999 in English words to their value (Trask 4.3)",
    "programs": "evaluate small programs with + - and if-then-else (Trask 4.4)",
}


def _add_flags(p: argparse.ArgumentParser, settings: type, flags: tuple[_Flag, ...]) -> None:
    """Flags without a parser default (the settings fill in what is not given); a help that
    shows a default reads it from the settings class."""
    for flag, kind, text in flags:
        if "{}" in text:
            text = text.format(shown(default(settings, flag[2:].replace("-", "_"))))
        extend = {"action": Extend} if kind is names else {}  # a list flag adds each use
        p.add_argument(flag, type=kind, help=text, **extend)


def add_arguments(reproduce: argparse.ArgumentParser) -> None:
    """The flags of ``nalm reproduce EXPERIMENT``."""
    which = reproduce.add_subparsers(dest="experiment", required=True, parser_class=Parser)
    parsers = [_identity_parser(which), _table1_parser(which)]
    parsers += [_sequence_parser(which, name, text) for name, text in _SEQUENCE_HELP.items()]
    for p in parsers:
        p.add_argument("--out", help="output directory (default runs/<experiment>-<time>)")
        p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _identity_parser(which: Any) -> argparse.ArgumentParser:
    from ..app.reproduce import IdentitySettings

    identity = which.add_parser(
        "identity",
        help="MLPs fail to extrapolate f(x) = x (15 activations); NAC and NALU for contrast",
        description="Many MLPs per activation (hidden 8,8,8) learn f(x) = x on U[-5,5], tested "
        "on [-20,20], all models of one activation trained together. Writes identity.png, "
        "identity.csv, identity.md.",
    )
    identity.add_argument(
        "--quick", action="store_true", help="20 models, 3,000 steps (about two minutes here)"
    )
    _add_flags(identity, IdentitySettings, _IDENTITY)
    return identity


def _table1_parser(which: Any) -> argparse.ArgumentParser:
    from ..app.reproduce import Table1Settings

    table1 = which.add_parser(
        "table1",
        help="the static and recurrent simple function tasks, scored against random models",
        description="Every model learns a+b, a-b, a*b, a/b, a^2, sqrt(a) from 100 inputs "
        "(static) or from sequences of them (recurrent). Score: 100 x MSE / MSE of random "
        "initialisations; median over seeds. Writes table1.md, table1.csv, table1-seeds.csv, "
        "table1.png.",
    )
    switch(
        table1,
        "--quick",
        "3 seeds, 6,000 static and 2,000 recurrent steps (about five minutes here)",
    )
    _add_flags(table1, Table1Settings, _TABLE1)
    table1.add_argument(
        "--ops",
        type=names,
        action=Extend,
        dest="operations",
        help="e.g. add,mul (default: all six)",
    )
    table1.add_argument("--only", choices=("static", "recurrent"), help="run one half of the table")
    table1.add_argument(
        "--static-models",
        type=names,
        action=Extend,
        help="row labels (ReLU6,None,NAC,NALU,NMU,...) or specs (nau>nmu, mlp:tanh)",
    )
    table1.add_argument(
        "--recurrent-models",
        type=names,
        action=Extend,
        help="row labels (LSTM,ReLU,NAC,NALU,NAU,NMU) or specs (lstm, rnn, nac, nau>nmu)",
    )
    _add_flags(table1, Table1Settings, _TABLE1_SIZES)
    return table1


def _sequence_parser(which: Any, name: str, text: str) -> argparse.ArgumentParser:
    from ..app.reproduce.sequences import SequenceSettings

    p = which.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("--quick", action="store_true", help="1 seed and 1/4 of the steps")
    p.add_argument("--models", type=names, action=Extend, help="comma-separated model names")
    seeds, hidden = default(SequenceSettings, "seeds"), default(SequenceSettings, "hidden")
    p.add_argument("--seeds", type=int, help=f"seeds per model (default {seeds})")
    p.add_argument("--steps", type=int, help="Adam steps per model")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--hidden", type=int, help=f"recurrent hidden size (default {hidden})")
    if name in ("digits", "product"):
        p.add_argument("--test-sequences", type=int, help="test sequences per length")
        p.add_argument(
            "--mnist-dir", help="directory with the four MNIST IDX files (default: sklearn 8x8)"
        )
    if name == "digits":
        p.add_argument("--kinds", type=names, action=Extend, help="count,sum (default both)")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``nalm reproduce EXPERIMENT``; returns the exit status."""
    from ..app.reproduce import IdentitySettings, Table1Settings, run_identity, run_table1
    from ..app.reproduce.sequences import EXPERIMENTS, run_sequences, settings_for

    if args.experiment in EXPERIMENTS:
        skip = {"command", "experiment", "quick", "out", "device", "no_progress"}
        given = {k: v for k, v in vars(args).items() if k not in skip}
        settings = settings_for(args.experiment, quick=args.quick, **given)
        out = run_sequences(args.experiment, settings, **common(args, seed=False))
        print(
            f"{args.experiment}: wrote "
            + ", ".join(str(out / f"{args.experiment}.{e}") for e in ("png", "md", "csv"))
        )
        print(f"(re-run with --out {out} to resume or to rebuild the report)")
        return 0

    skip = {"command", "experiment", "quick", "out", "device", "no_progress", "only"}
    given = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
    if getattr(args, "only", None):
        given["settings"] = (args.only,)
    if args.experiment == "identity":
        cls, run = IdentitySettings, run_identity
    else:
        cls, run = Table1Settings, run_table1
    settings = cls().quick(**given) if args.quick else cls(**given)
    result = run(settings, **common(args, seed=False))
    out = result.paths["markdown"].parent
    print(
        f"{args.experiment}: {result.seconds:.0f} s; wrote "
        + ", ".join(str(result.paths[k]) for k in ("png", "markdown", "csv"))
    )
    print(f"(re-run with --out {out} to resume or to rebuild the report)")
    return 0
