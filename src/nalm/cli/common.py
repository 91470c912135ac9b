"""What every command's parser shares: the one-line error, value types, defaults read from the
settings, the run flags, and the check of every flag against :mod:`nalm.limits`."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from typing import Any, NoReturn

from ..app import runs
from ..errors import NalmError


class Parser(argparse.ArgumentParser):
    """Answers bad arguments with one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):
            flag = message.removeprefix("argument ").split(":")[0].split("/")[-1]
            message += f" (a value that starts with '-' is written {flag}=-VALUE)"
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → ``(key, value)``, the value read as a bool, an int, a float or a string.

    Example:
        >>> option("eps=1e-6"), option("shared_weights=false")
        (('eps', 1e-06), ('shared_weights', False))
    """
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return key, lowered == "true"
    for convert in (int, float):
        try:
            return key, convert(raw)
        except ValueError:
            pass
    return key, raw


def hidden_sizes(text: str) -> tuple[int, ...]:
    """``"64,64"`` → ``(64, 64)``; every size at least 1.

    Example:
        >>> hidden_sizes("8,8,8")
        (8, 8, 8)
    """
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of sizes"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"{text!r} has a size below 1")
    return sizes


def names(text: str) -> tuple[str, ...]:
    """``"a, b,"`` → ``("a", "b")``; at least one name.

    Example:
        >>> names("nac, nalu,")
        ('nac', 'nalu')
    """
    found = tuple(n.strip() for n in text.split(",") if n.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give NAME,NAME,...")
    return found


class Extend(argparse.Action):
    """The action of every list-valued flag: each use adds to the list, so ``--exclude c
    --exclude b`` is ``--exclude c,b`` and ``--models nau --models nmu`` is ``--models nau nmu``.

    A flag read by :func:`names` adds every name of a use; any other adds each value as one
    item. The result is a tuple; the flag's default stands only while the flag is not given
    (it is replaced, never appended to).

    Example:
        >>> p = Parser(prog="x")
        >>> _ = p.add_argument("--exclude", type=names, action=Extend, default=("z",))
        >>> p.parse_args([]).exclude, p.parse_args(["--exclude", "c", "--exclude", "a,b"]).exclude
        (('z',), ('c', 'a', 'b'))
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = values if isinstance(values, list) else [values]  # nargs="+" gives a list
        items = [item for value in given for item in (value if self.type is names else [value])]
        before = getattr(namespace, self.dest, None)
        kept = () if before is None or before is self.default else tuple(before)
        setattr(namespace, self.dest, (*kept, *items))


def default(source: Any, name: str) -> Any:
    """The default of field ``name`` of a dataclass, or of keyword ``name`` of a function: the
    one place a flag's default is written.

    Example:
        >>> from nalm.app.reproduce import IdentitySettings
        >>> default(IdentitySettings, "steps")
        10000
    """
    if dataclasses.is_dataclass(source):
        for field in dataclasses.fields(source):
            if field.name == name:
                if field.default_factory is not dataclasses.MISSING:
                    return field.default_factory()
                if field.default is dataclasses.MISSING:
                    break
                return field.default
        raise NalmError(f"{source.__name__} has no field {name!r} with a default")
    parameter = inspect.signature(source).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        raise NalmError(f"{source.__name__} has no keyword {name!r} with a default")
    return parameter.default


def shown(value: Any) -> str:
    """A default as help texts write it: ``(8, 8, 8)`` → ``8,8,8``, ``0.001`` → ``1e-3``.

    Example:
        >>> shown((8, 8, 8)), shown(10_000), shown(0.001), shown(0.05), shown("-5,5")
        ('8,8,8', '10000', '1e-3', '0.05', '-5,5')
    """
    if isinstance(value, tuple):
        return ",".join(shown(v) for v in value)
    if isinstance(value, float) and 0 < abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def switch(p: argparse.ArgumentParser, flag: str, text: str) -> None:
    """A flag that takes no value: ``False`` unless given."""
    p.add_argument(flag, action="store_true", help=text)


def add_common(p: argparse.ArgumentParser) -> None:
    """``--seed``, ``--device``, ``--out`` and ``--no-progress``."""
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--out", help="run directory (default runs/<command>-<time>)")
    switch(p, "--no-progress", "hide the progress bar")


def common(args: argparse.Namespace, *, seed: bool = True) -> dict[str, Any]:
    """What the flags of :func:`add_common` give a workflow's ``run_…`` call: ``out``,
    ``device``, ``progress`` and (unless ``seed=False``) ``seed``.

    Example:
        >>> common(argparse.Namespace(seed=3, device="cpu", out=None, no_progress=True))
        {'out': None, 'device': 'cpu', 'progress': False, 'seed': 3}
    """
    given = {"out": args.out, "device": args.device, "progress": not args.no_progress}
    return given | ({"seed": args.seed} if seed else {})


def add_tensorboard(p: argparse.ArgumentParser) -> None:
    """``--tensorboard DIR``: each evaluation as TensorBoard scalars (:mod:`nalm.train.watch`)."""
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="write the losses, interpolation/extrapolation MSE and sparsity error of every "
        "model or seed to DIR as they are evaluated (view with 'tensorboard --logdir DIR'; "
        "needs pip install 'nalm[tensorboard]')",
    )


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command: those without subcommands of their own and those whose
    subcommands are optional (``nalm units`` runs alone or as ``nalm units check``), found by
    walking every subcommand (nested ones too).

    Example:
        >>> top = Parser(prog="x")
        >>> sub = top.add_subparsers(required=True)
        >>> a, b = sub.add_parser("a"), sub.add_parser("b")
        >>> c = b.add_subparsers(required=True).add_parser("c")
        >>> [p.prog for p in leaf_parsers(top)]
        ['x a', 'x b c']
    """
    found: list[argparse.ArgumentParser] = []
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    children = [child for a in groups for child in dict.fromkeys(a.choices.values())]
    if not children or not all(a.required for a in groups):
        found.append(parser)
    for child in children:
        found += leaf_parsers(child)
    return found


def add_import(p: argparse.ArgumentParser) -> None:
    """``--import MODULE_OR_FILE`` (repeatable): unit definitions to load before the command."""
    if "--import" in p._option_string_actions:  # a command that defines its own
        return
    p.add_argument(
        "--import",
        dest="imports",
        action=Extend,
        default=argparse.SUPPRESS,  # a subcommand's parser must not reset its parent's list
        metavar="MODULE_OR_FILE",
        help="load unit definitions first: a module on the Python path or a .py file "
        "(repeatable); their @nalm.units.register names then work like built-in units",
    )


_SIZES = {
    "inputs",
    "layers",
    "hidden",
    "batch_size",
    "eval_size",
    "seeds",
    "models",
    "test_sequences",
    "random_inits",
    "rnn_hidden",
    "train_length",
    "extrapolation_length",
    "baseline_hidden",
}
_STEPS = {"steps", "static_steps", "recurrent_steps", "eval_every", "checkpoint_every"}
_SEEDS = {"seed", "first_seed"}
_NOT_OPTIONS = {"in_features", "out_features", "layers", "hidden", "preset", "device", "dtype"}
_POSITIVE = {"lr", "baseline_lr", "clip_value", "clip_norm"}
_NONNEGATIVE = {"lambda_hat", "tolerance"}


def _flag(dest: str) -> str:
    return "--lambda" if dest == "lambda_hat" else "--" + dest.replace("_", "-")


def _check_value(args: argparse.Namespace, dest: str, value: Any) -> None:
    """One flag's value against its limit (the device is normalised in ``args``)."""
    from .. import limits  # torch: only once a command runs, not to build the parser

    flag = _flag(dest)
    if dest in _SIZES:
        for size in value if isinstance(value, tuple) else (value,):
            if isinstance(size, int):
                limits.check_size(
                    size, flag, limit=limits.MAX_LAYERS if dest == "layers" else limits.MAX_SIZE
                )
    elif dest in _STEPS:
        limits.check_steps(value, flag)
    elif dest in _SEEDS:
        limits.check_seed(value, flag)
    elif dest in _POSITIVE:
        limits.check_number(value, flag, positive=True)
    elif dest in _NONNEGATIVE:
        limits.check_number(value, flag, nonnegative=True)
    elif dest == "device":
        args.device = str(limits.check_device(value, flag))  # " cpu" → "cpu"
    elif dest in ("recover", "retries"):
        limits.check_size(value, flag, minimum=0, limit=1000)
    elif dest == "out":
        runs.check_run_dir(value, flag)


def check_arguments(args: argparse.Namespace) -> None:
    """Every flag checked against :mod:`nalm.limits` by its own name, before anything runs."""
    for dest, value in vars(args).items():
        if value is not None and not isinstance(value, bool):
            _check_value(args, dest, value)
    first_flag = "--first-seed" if hasattr(args, "first_seed") else "--seed"
    first = getattr(args, first_flag[2:].replace("-", "_"), None)
    count = getattr(args, "seeds", None)
    if args.command == "bench" and count is None and getattr(args, "suite", None):
        from ..bench.suites import get_suite

        count = get_suite(args.suite).seeds
    from ..limits import MAX_SEED

    if isinstance(first, int) and isinstance(count, int) and first + count - 1 > MAX_SEED:
        raise NalmError(
            f"{first_flag} {first} with {count} seeds goes past the largest seed, 2**63 - 1"
        )
    if getattr(args, "tensorboard", None) and getattr(args, "backend", "local") != "local":
        raise NalmError(
            "--tensorboard watches the training in this process; with --backend ray the cells "
            "train in other processes"
        )
    for key, _ in getattr(args, "option", None) or ():
        if key in _NOT_OPTIONS:
            raise NalmError(
                f"--option {key}=... is not a unit option; sizes, layers, presets, the device "
                "and the dtype have their own flags"
            )
