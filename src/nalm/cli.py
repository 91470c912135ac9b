"""The ``nalm`` command: a thin layer over :func:`nalm.fit` and the tasks and units."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

import torch

from . import limits, runs
from .errors import NalmError
from .models import parse as parse_model
from .plots import save_run_plot
from .presets import SEED_PRESETS, run_seed_preset
from .reporting import UNIT_COLUMNS, describe_weights, fmt, markdown_table, table, units_overview
from .tasks import Expression, ExpressionTask
from .train import POLICIES, FitResult, Policy, fit, get_policy, recommended_policy
from .train.policies import with_overrides
from .train.schedule import parse_ramp
from .units import MLP, registry


class _Parser(argparse.ArgumentParser):
    """Answers bad arguments with one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):
            flag = message.removeprefix("argument ").split(":")[0].split("/")[-1]
            message += f" (a value that starts with '-' is written {flag}=-VALUE)"
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _option(text: str) -> tuple[str, Any]:
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


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of sizes"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"{text!r} has a size below 1")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nalm",
        description="Neural arithmetic units that learn formulas and keep them far outside "
        "the training range.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a unit model and an MLP baseline on a formula",
        description="Train a model of arithmetic units and an MLP baseline side by side on a "
        "formula, then compare them inside and far outside the training range.",
    )
    train.add_argument(
        "--preset",
        choices=sorted(SEED_PRESETS),
        help="run one of the seed code's demos with its own data and settings "
        "(ignores the task and model flags)",
    )
    train.add_argument(
        "--unit",
        default="nalu",
        help="model spec (default nalu): a unit name ("
        + ", ".join(registry.names())
        + "), FIRST>SECOND or a paper name; --layers repeats a single unit",
    )
    train.add_argument(
        "--target", default="x0 * x1", help="formula over x0, x1, ... (default 'x0 * x1')"
    )
    train.add_argument("--train-range", default="1,2", help="e.g. 1,2 or -6,-2|2,6 (default 1,2)")
    train.add_argument("--test-range", default="2,6", help="extrapolation range (default 2,6)")
    train.add_argument(
        "--inputs", type=int, help="number of inputs (default: what the target uses)"
    )
    train.add_argument("--layers", type=int, default=1, help="units stacked (default 1)")
    train.add_argument("--hidden", type=int, default=2, help="width between layers (default 2)")
    train.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="unit option, e.g. --option eps=1e-6 --option shared_weights=false",
    )
    train.add_argument(
        "--seed-init",
        action="store_true",
        help="use the unit's seed preset (U[-2,2] init, N(0,1) gate, eps 1e-6)",
    )
    train.add_argument(
        "--steps", type=int, help="optimiser steps (default 20000; a preset's own with --preset)"
    )
    train.add_argument(
        "--lr", type=float, default=0.05, help="Adam learning rate of the unit model (default 0.05)"
    )
    train.add_argument("--batch-size", type=int, default=128, help="default 128")
    train.add_argument("--eval-every", type=int, default=1000, help="default 1000")
    train.add_argument(
        "--eval-size", type=int, default=10_000, help="rows in each evaluation set (default 10000)"
    )
    train.add_argument(
        "--baseline",
        choices=("mlp", "none"),
        default="mlp",
        help="train an MLP beside the unit model (default mlp)",
    )
    train.add_argument(
        "--baseline-hidden", type=_hidden, default=(64, 64), help="MLP hidden sizes (default 64,64)"
    )
    train.add_argument(
        "--baseline-activation", default="relu6", help="any torch.nn activation (default relu6)"
    )
    train.add_argument("--baseline-lr", type=float, default=1e-3, help="default 1e-3")
    train.add_argument(
        "--policy",
        default="auto",
        choices=("auto", *POLICIES),
        help="training policy of the unit model (default auto: the one its paper used; "
        "see 'nalm units')",
    )
    train.add_argument(
        "--ramp",
        metavar="[LAMBDA,]START,END",
        help="regulariser ramp λ(t) = LAMBDA·clip((t−START)/(END−START), 0, 1), replacing the "
        "policy's (without LAMBDA: the policy's λ̂ over these steps)",
    )
    train.add_argument("--clip-value", type=float, help="clip gradients to ±VALUE")
    train.add_argument("--clip-norm", type=float, help="clip the gradient norm to VALUE")
    train.add_argument(
        "--checkpoint-every",
        type=int,
        default=1000,
        help="steps between checkpoints in the run directory (default 1000); run the same "
        "command with the same --out to resume",
    )
    train.add_argument(
        "--recover",
        nargs="?",
        type=int,
        const=3,
        default=0,
        metavar="N",
        help="on a NaN/inf loss, go back to the last finite snapshot (taken at every checkpoint) "
        "with a 10x lower learning rate, up to N times (default 3 when given)",
    )
    _common(train)

    _fit_parser(sub)

    units = sub.add_parser(
        "units",
        help="list the units: operations, sign, parameters, policy, paper",
        description="The registered units: what exact weights can compute, whether negative "
        "inputs keep their sign, their parameters, the training policy their paper used.",
    )
    units.add_argument("--markdown", action="store_true", help="print a Markdown table")

    demo = sub.add_parser(
        "demo",
        help="the main job: units against an MLP on four formulas",
        description="Learn addition, subtraction, multiplication and the seed's NALU formula "
        "with the seed's units and an MLP, then test far outside the training range.",
    )
    demo.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps per formula (default: each formula's own, 4000-10000)",
    )
    _common(demo)
    _bench_parsers(sub)
    _reproduce_parsers(sub)
    return parser


def _fit_parser(sub: Any) -> None:
    from .fitting import DEFAULT_UNITS

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
        type=_names,
        help=f"comma-separated model specs (default {','.join(DEFAULT_UNITS)})",
    )
    fit_cmd.add_argument("--exclude", type=_names, default=(), help="columns that are not inputs")
    fit_cmd.add_argument("--steps", type=int, default=10_000, help="Adam steps (default 10000)")
    fit_cmd.add_argument("--seeds", type=int, default=3, help="seeds per unit (default 3)")
    fit_cmd.add_argument("--lr", type=float, help="learning rate (default 0.05; 1e-3 for an MLP)")
    fit_cmd.add_argument("--hidden", type=int, default=2, help="width of FIRST>SECOND (default 2)")
    fit_cmd.add_argument("--batch-size", type=int, default=128, help="default 128")
    fit_cmd.add_argument(
        "--tolerance", type=float, default=0.05, help="weight snapping tolerance (default 0.05)"
    )
    _common(fit_cmd)


def _bench_parsers(sub: Any) -> None:
    from .bench.suites import SUITES

    bench = sub.add_parser(
        "bench",
        help="the arithmetic benchmarks: many seeds per cell, success rates with intervals",
        description="Run a benchmark suite into an SQLite database (resumable), then report "
        "success rates with Wilson 95 %% intervals next to the published numbers.",
    )
    actions = bench.add_subparsers(dest="action", required=True, parser_class=_Parser)
    run = actions.add_parser(
        "run",
        help="train every missing cell of a suite and store one row per seed",
        description="Each cell (model × operation × range pair) trains its seeds together as one "
        "batched computation and writes their rows in one transaction. Re-running the same "
        "command skips finished rows, so an interrupted sweep resumes.",
    )
    run.add_argument("suite", choices=sorted(SUITES), help="the suite")
    run.add_argument(
        "--models",
        nargs="+",
        help="model specs, separated by spaces or commas: first>second (nau>nmu), a unit (nau), "
        "mlp:ACT, or a paper name (NMU NAU NAC• NAC+ NALU Linear ReLU ReLU6); default: the "
        "suite's",
    )
    run.add_argument(
        "--ops", nargs="+", help="operations, by spaces or commas (add sub mul div squared root)"
    )
    run.add_argument(
        "--ranges",
        help="range pairs INTERPOLATION:EXTRAPOLATION (e.g. '1,2:2,6'), or indices into the "
        "suite's list, separated by ';' or spaces; default: all of the suite's",
    )
    run.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the paper's)")
    run.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    run.add_argument("--steps", type=int, help="steps per seed (default: the paper's)")
    run.add_argument("--eval-every", type=int, help="steps between evaluations (default 1000)")
    run.add_argument("--batch-size", type=int, help="batch size (default 128)")
    run.add_argument("--lr", type=float, help="learning rate (default: the paper's per model)")
    run.add_argument(
        "--lambda",
        dest="lambda_hat",
        metavar="LAMBDA",
        type=float,
        help="final regulariser weight λ̂",
    )
    run.add_argument(
        "--ramp",
        metavar="[LAMBDA,]START,END",
        help="[λ̂,] steps over which λ ramps from 0 to λ̂ (default: the model's policy)",
    )
    run.add_argument("--eval-size", type=int, default=10_000, help="rows per evaluation set")
    run.add_argument(
        "--early-stop",
        action="store_true",
        help="stop a seed once its best interpolation MSE and its extrapolation MSE are both "
        "below the ε-thresholds (it is then a success at that step)",
    )
    run.add_argument("--db", default="results.sqlite", help="results database")
    run.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local (default): cells one after another in this process; ray: each cell a Ray "
        "task (needs pip install 'nalm[ray]'), rows still stored here",
    )
    run.add_argument(
        "--address",
        help="with --backend ray: the cluster's head (HOST:PORT or auto); default: start a "
        "local Ray with this machine's cores",
    )
    run.add_argument(
        "--retries",
        type=int,
        help="with --backend ray: times a failed cell is retried before it is recorded as "
        "failed (default 2)",
    )
    run.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    report = actions.add_parser(
        "report",
        help="Markdown, CSV and PNGs from a results database",
        description="Success rate with Wilson 95 %% intervals, solved-at, sparsity error and "
        "diverged seeds per cell, with the published numbers beside ours.",
    )
    report.add_argument(
        "--db", nargs="+", default=["results.sqlite"], help="results database(s), combined"
    )
    report.add_argument("--out", default="runs/bench-report", help="output directory")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give NAME,NAME,...")
    return names


def _reproduce_parsers(sub: Any) -> None:
    reproduce = sub.add_parser(
        "reproduce",
        help="reproduce published experiments: identity, table1, digits, product, words, programs",
        description="Reproduce a paper's experiment and write Markdown, CSV and PNG. The full "
        "settings are the defaults; --quick runs a smaller version in a few minutes. An "
        "interrupted run resumes when re-run with the same --out.",
    )
    which = reproduce.add_subparsers(dest="experiment", required=True, parser_class=_Parser)
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
    identity.add_argument("--models", type=int, help="models per activation (default 100)")
    identity.add_argument("--steps", type=int, help="Adam steps (default 10000)")
    identity.add_argument("--lr", type=float, help="learning rate (default 0.01)")
    identity.add_argument("--batch-size", type=int, help="default 128")
    identity.add_argument(
        "--activations", type=_names, help="comma-separated (default: the paper's 15)"
    )
    identity.add_argument(
        "--units", type=_names, help="units drawn for contrast (default nac,nalu)"
    )
    identity.add_argument("--hidden", type=_hidden, help="MLP hidden sizes (default 8,8,8)")
    identity.add_argument("--train-range", help="default -5,5")
    identity.add_argument("--test-range", help="default -20,20")
    table1 = which.add_parser(
        "table1",
        help="the static and recurrent simple function tasks, scored against random models",
        description="Every model learns a+b, a-b, a*b, a/b, a^2, sqrt(a) from 100 inputs "
        "(static) or from sequences of them (recurrent). Score: 100 x MSE / MSE of random "
        "initialisations; median over seeds. Writes table1.md, table1.csv, table1-seeds.csv, "
        "table1.png.",
    )
    table1.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, 6,000 static and 2,000 recurrent steps (about five minutes here)",
    )
    table1.add_argument("--seeds", type=int, help="seeds per model and operation (default 10)")
    table1.add_argument("--static-steps", type=int, help="default 20000")
    table1.add_argument("--recurrent-steps", type=int, help="default 10000")
    table1.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    table1.add_argument("--batch-size", type=int, help="default 128")
    table1.add_argument(
        "--ops", type=_names, dest="operations", help="e.g. add,mul (default: all six)"
    )
    table1.add_argument("--only", choices=("static", "recurrent"), help="run one half of the table")
    table1.add_argument(
        "--static-models",
        type=_names,
        help="row labels (ReLU6,None,NAC,NALU,NMU,...) or specs (nau>nmu, mlp:tanh)",
    )
    table1.add_argument(
        "--recurrent-models",
        type=_names,
        help="row labels (LSTM,ReLU,NAC,NALU,NAU,NMU) or specs (lstm, rnn, nac, nau>nmu)",
    )
    table1.add_argument("--hidden", type=int, help="hidden size of unit models (default 2)")
    table1.add_argument("--rnn-hidden", type=int, help="LSTM/RNN hidden size (default 16)")
    table1.add_argument(
        "--random-inits", type=int, help="random models averaged in the score (default 100)"
    )
    table1.add_argument("--train-range", help="static training range (default 1,2)")
    table1.add_argument("--extrapolation-range", help="static extrapolation range (default 2,6)")
    table1.add_argument("--train-length", type=int, help="recurrent training length (default 10)")
    table1.add_argument(
        "--extrapolation-length", type=int, help="recurrent extrapolation length (default 20)"
    )
    table1.add_argument(
        "--sequence-train-range", help="entries of recurrent inputs in training (default 0.1,0.2)"
    )
    table1.add_argument(
        "--sequence-extrapolation-range",
        help="entries of recurrent inputs in extrapolation (default 0.2,0.3)",
    )
    sequence_help = {
        "digits": "count and sum handwritten digits in sequences of 1-1000 (Trask 4.2)",
        "product": "running product of handwritten digits 1-9, lengths 1-20 (Madsen)",
        "words": "numbers 0-999 in English words to their value (Trask 4.3)",
        "programs": "evaluate small programs with + - and if-then-else (Trask 4.4)",
    }
    sequence_parsers = []
    for name, text in sequence_help.items():
        p = which.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--quick", action="store_true", help="1 seed and 1/4 of the steps")
        p.add_argument("--models", type=_names, help="comma-separated model names")
        p.add_argument("--seeds", type=int, help="seeds per model (default 3)")
        p.add_argument("--steps", type=int, help="Adam steps per model")
        p.add_argument("--lr", type=float, help="Adam learning rate")
        p.add_argument("--hidden", type=int, help="recurrent hidden size (default 32)")
        if name in ("digits", "product"):
            p.add_argument("--test-sequences", type=int, help="test sequences per length")
            p.add_argument(
                "--mnist-dir", help="directory with the four MNIST IDX files (default: sklearn 8x8)"
            )
        if name == "digits":
            p.add_argument("--kinds", type=_names, help="count,sum (default both)")
        sequence_parsers.append(p)
    for p in (identity, table1, *sequence_parsers):
        p.add_argument("--out", help="output directory (default runs/<experiment>-<time>)")
        p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import IdentitySettings, Table1Settings, run_identity, run_table1
    from .reproduce.sequences import EXPERIMENTS, run_sequences, settings_for

    if args.experiment in EXPERIMENTS:
        skip = {"command", "experiment", "quick", "out", "device", "no_progress"}
        given = {k: v for k, v in vars(args).items() if k not in skip}
        settings = settings_for(args.experiment, quick=args.quick, **given)
        out = run_sequences(
            args.experiment, settings, args.out, device=args.device, progress=not args.no_progress
        )
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
    settings = cls.quick_settings(**given) if args.quick else cls(**given)
    result = run(settings, args.out, device=args.device, progress=not args.no_progress)
    out = result.paths["markdown"].parent
    print(
        f"{args.experiment}: {result.seconds:.0f} s; wrote "
        + ", ".join(str(result.paths[k]) for k in ("png", "markdown", "csv"))
    )
    print(f"(re-run with --out {out} to resume or to rebuild the report)")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--out", help="run directory (default runs/<command>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


class TrainSetup(NamedTuple):
    """What ``nalm train`` builds from its flags before it trains anything."""

    task: ExpressionTask
    model: torch.nn.Module
    baseline: MLP | None
    policy: Policy
    options: dict[str, Any]


def prepare_train(args: argparse.Namespace) -> TrainSetup:
    """The task, the unit model, the baseline and the policy of ``nalm train`` (every flag is
    checked here; nothing is trained or written)."""
    n_inputs = args.inputs or Expression(args.target).n_inputs
    limits.check_elements({"--eval-size": args.eval_size, "--inputs": n_inputs})
    limits.check_elements({"--batch-size": args.batch_size, "--inputs": n_inputs})
    task = ExpressionTask(
        args.target,
        args.train_range,
        args.test_range,
        n_inputs=args.inputs,
        eval_size=args.eval_size,
        eval_seed=args.seed,
    )
    options = dict(args.option)
    limits.check_size(args.layers, "layers", limit=limits.MAX_LAYERS)
    spec = parse_model(args.unit, layers=None if args.layers == 1 else args.layers)
    if args.layers != 1 and len(spec.layers) != args.layers:
        raise NalmError(f"--layers repeats a single unit; {args.unit!r} names its own layers")
    torch.manual_seed(args.seed)
    model = spec.build(
        task.in_features,
        1,
        hidden=args.hidden,
        options=options,
        preset="seed" if args.seed_init else None,
    )
    policy = _policy(args, model)
    torch.manual_seed(args.seed)
    baseline = None
    if args.baseline == "mlp":
        baseline = MLP(
            task.in_features, 1, hidden=args.baseline_hidden, activation=args.baseline_activation
        )
    return TrainSetup(task, model, baseline, policy, options)


def _train(args: argparse.Namespace) -> int:
    if args.preset:
        run_seed_preset(
            args.preset,
            seed=args.seed,
            steps=args.steps,
            out=args.out,
            device=args.device,
            progress=not args.no_progress,
        )
        return 0
    if args.steps is None:
        args.steps = 20_000
    task, model, baseline, policy, options = prepare_train(args)
    models, rates = {args.unit: model}, {args.unit: args.lr}
    if baseline is not None:
        models["mlp"], rates["mlp"] = baseline, args.baseline_lr
    print(
        f"training {args.unit} ({args.layers} layer(s)) and "
        f"{'an MLP ' + str(args.baseline_hidden) if baseline else 'no baseline'} on "
        f"{task.expression}: train {task.train_range}, test {task.test_range}, "
        f"{args.steps} steps, seed {args.seed}"
    )
    print(f"policy {policy.name}: {policy.describe()}")
    run_dir = runs.new_run_dir(f"train-{args.unit}", args.out)
    checkpoint = run_dir / "checkpoint.safetensors"
    if checkpoint.exists():
        print(f"resuming from {checkpoint}")
    every = args.checkpoint_every
    runs.set_resume_hint(
        lambda: (
            f"the last checkpoint (written every {every} steps) is in {checkpoint}; run the "
            f"same command with --out {run_dir} to resume"
            if checkpoint.exists()
            else f"no checkpoint had been written yet (the first comes at step {every}), so "
            "nothing was saved"
        )
    )
    results = fit(
        models,
        task,
        steps=args.steps,
        lr=rates,
        policy={args.unit: policy, "mlp": None},
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        description="train",
        checkpoint=checkpoint,
        checkpoint_every=args.checkpoint_every,
        recover=args.recover,
    )

    print()
    print(results_table(results))
    print("\nlearned weights (rounded):")
    print(describe_weights(model))
    print(f"\nformula: {formula_line(model, task.in_features)}")
    diverged = [name for name, r in results.items() if r.diverged]
    recovered = {name: r.recovered_at for name, r in results.items() if r.recovered_at}
    for name, steps in recovered.items():
        print(f"{name}: recovered from a non-finite loss at step(s) {', '.join(map(str, steps))}")
    print(
        f"{len(diverged)} of {len(results)} model(s) diverged"
        + (f": {', '.join(diverged)}" if diverged else "")
    )
    config = {
        "command": "train",
        **{k: v for k, v in vars(args).items() if k not in ("command", "ramp")},
        "ramp": _ramp_config(args.ramp),
        "policy": {"name": policy.name, "description": policy.describe()},
        "task": task.config(),
        "model": repr(model),
        "baseline_model": repr(baseline) if baseline else None,
    }
    runs.write_config(run_dir, config)
    runs.write_metrics(run_dir, results)
    description = {
        "unit": args.unit,
        "in_features": task.in_features,
        "out_features": 1,
        "layers": args.layers,
        "hidden": args.hidden,
        "options": options,
        "preset": "seed" if args.seed_init else None,
    }
    runs.save_weights(run_dir / "model.safetensors", model, description)
    if baseline is not None:
        runs.save_weights(
            run_dir / "baseline.safetensors",
            baseline,
            {
                "unit": "mlp",
                "hidden": list(args.baseline_hidden),
                "activation": args.baseline_activation,
            },
        )
    save_run_plot(run_dir / "prediction.png", task, models, results, args.device)
    print(f"\nrun directory: {run_dir}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from .fitting import DEFAULT_UNITS, run_fit

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


def _ramp_config(text: str | None) -> dict[str, Any] | None:
    """``--ramp`` as ``config.json`` records it."""
    if text is None:
        return None
    return dict(zip(("lambda_hat", "start", "end"), parse_ramp(text), strict=True))


def _policy(args: argparse.Namespace, model: torch.nn.Module) -> Policy:
    """The unit model's policy: ``--policy`` (or the recommended one) with the flags' overrides."""
    policy = recommended_policy(model) if args.policy == "auto" else get_policy(args.policy)
    lambda_hat, *ramp = parse_ramp(args.ramp) if args.ramp is not None else (None, None, None)
    changed = with_overrides(
        policy,
        lambda_hat=lambda_hat,
        ramp=tuple(ramp) if ramp[0] is not None else None,  # type: ignore[arg-type]
        clip_value=args.clip_value,
        clip_norm=args.clip_norm,
        model=f"unit {args.unit!r}",
    )
    return changed if changed is policy else changed.replace(name=f"{policy.name}+flags")


def _bench(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from .bench.sweep import Sweep, report

    if args.action == "report":
        paths = report(args.db, args.out)
        print(paths["markdown"].read_text())
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0
    sweep = Sweep(**{f.name: getattr(args, f.name) for f in fields(Sweep)})
    summary = sweep.run()
    print("\n".join(sweep.closing_lines(summary)))
    return 0


def _stored(db: str) -> str:
    """What an interrupted sweep has stored, for the Ctrl-C message."""
    from .bench.sweep import stored_message

    return stored_message(db)


def _units(args: argparse.Namespace) -> int:
    rows = units_overview()
    print(markdown_table(UNIT_COLUMNS, rows) if args.markdown else table(UNIT_COLUMNS, rows))
    if not args.markdown:
        print("\npolicies:")
        for name, policy in POLICIES.items():
            print(f"  {name:<11} {policy.describe()}")
    return 0


def formula_line(model: torch.nn.Module, n_inputs: int) -> str:
    """``y = x0 + x1    [2 weight(s) snapped ...]``, or why the model has no formula."""
    from .symbolic import extract_formula

    try:
        extraction = extract_formula(model, tolerance=0.05)
    except NalmError as e:
        return f"none ({e})"
    return f"y = {extraction.formula}    [{extraction.summary()}]"


def results_table(results: dict[str, FitResult]) -> str:
    """Final interpolation/extrapolation MSE per model, with divergence."""
    rows = []
    for name, r in results.items():
        status = f"diverged at step {r.diverged_at}" if r.diverged else "ok"
        rows.append(
            [
                name,
                fmt(r.final.get("interpolation_mse")),
                fmt(r.final.get("extrapolation_mse")),
                r.steps,
                status,
            ]
        )
    return table(["model", "interpolation MSE", "extrapolation MSE", "steps", "status"], rows)


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


def check_arguments(args: argparse.Namespace) -> None:
    """Every flag checked against :mod:`nalm.limits` by its own name, before anything runs."""
    for dest, value in vars(args).items():
        if value is None or isinstance(value, bool):
            continue
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
    first_flag = "--first-seed" if hasattr(args, "first_seed") else "--seed"
    first = getattr(args, first_flag[2:].replace("-", "_"), None)
    count = getattr(args, "seeds", None)
    if args.command == "bench" and count is None and getattr(args, "suite", None):
        from .bench.suites import get_suite

        count = get_suite(args.suite).seeds
    if isinstance(first, int) and isinstance(count, int) and first + count - 1 > limits.MAX_SEED:
        raise NalmError(
            f"{first_flag} {first} with {count} seeds goes past the largest seed, 2**63 - 1"
        )
    for key, _ in getattr(args, "option", None) or ():
        if key in _NOT_OPTIONS:
            raise NalmError(
                f"--option {key}=... is not a unit option; sizes, layers, presets, the device "
                "and the dtype have their own flags"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nalm`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_join_dash_values(argv))
    try:
        with runs.refusal_cleanup():
            return _run(args)
    except NalmError as e:
        print(f"nalm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnalm: interrupted; {runs.resume_hint()}", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    """Check the arguments, then run the command."""
    check_arguments(args)
    if args.command == "train":
        return _train(args)
    if args.command == "units":
        return _units(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "reproduce":
        return _reproduce(args)
    if args.command == "fit":
        return _fit(args)
    from .demo import run_demo

    run_demo(
        steps=args.steps,
        seed=args.seed,
        out=args.out,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
