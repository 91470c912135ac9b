"""``nalm bench``: run a benchmark suite into an SQLite database, and report it."""

from __future__ import annotations

import argparse

from .common import Extend, Parser, add_tensorboard, default, names, switch

SUMMARY = "the arithmetic benchmarks: many seeds per cell, success rates with intervals"
DESCRIPTION = (
    "Run a benchmark suite into an SQLite database (resumable), then report "
    "success rates with Wilson 95 % intervals next to the published numbers."
)


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of ``nalm bench run`` and ``nalm bench report``."""
    actions = bench.add_subparsers(dest="action", required=True, parser_class=Parser)
    run = actions.add_parser(
        "run",
        help="train every missing cell of a suite and store one row per seed",
        description="Each cell (model × operation × range pair) trains its seeds together as one "
        "batched computation and writes their rows in one transaction. Re-running the same "
        "command skips finished rows, so an interrupted sweep resumes.",
    )
    _cell_flags(run)
    _training_flags(run)
    _backend_flags(run)
    add_tensorboard(run)
    report = actions.add_parser(
        "report",
        help="Markdown, CSV and PNGs from a results database",
        description="Success rate with Wilson 95 % intervals, solved-at, sparsity error and "
        "diverged seeds per cell, with the published numbers beside ours.",
    )
    report.add_argument(
        "--db",
        nargs="+",
        action=Extend,
        default=("results.sqlite",),
        help="results database(s), combined (repeatable)",
    )
    report.add_argument("--out", default="runs/bench-report", help="output directory")
    switch(
        report,
        "--reference",
        "also rank your cells beside nalm's reference results and the published numbers "
        "(ranking.md, ranking.png)",
    )


def _cell_flags(run: argparse.ArgumentParser) -> None:
    """Which cells and seeds: the suite, models, operations, ranges, seeds."""
    from ..bench.suites import SUITES

    run.add_argument("suite", choices=sorted(SUITES), help="the suite")
    run.add_argument(
        "--models",
        nargs="+",
        type=names,
        action=Extend,
        help="model specs, separated by spaces or commas: first>second (nau>nmu), a unit (nau), "
        "mlp:ACT, or a paper name (NMU NAU NAC• NAC+ NALU Linear ReLU ReLU6); default: the "
        "suite's",
    )
    run.add_argument(
        "--ops",
        nargs="+",
        type=names,
        action=Extend,
        help="operations, by spaces or commas (add sub mul div squared root)",
    )
    run.add_argument(
        "--ranges",
        action=Extend,
        help="range pairs INTERPOLATION:EXTRAPOLATION (e.g. '1,2:2,6'), or indices into the "
        "suite's list, separated by ';' or spaces; default: all of the suite's",
    )
    run.add_argument(
        "--input-size", type=int, help="inputs of the task (default: the suite's; madsen 100)"
    )
    run.add_argument(
        "--subset",
        type=float,
        help="fraction of the input in each summed slice (default: the suite's; madsen 0.25)",
    )
    run.add_argument(
        "--overlap",
        type=float,
        help="fraction of a slice shared by both slices (default: the suite's; madsen 0.5)",
    )
    run.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the paper's)")
    run.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")


def _training_flags(run: argparse.ArgumentParser) -> None:
    """How each cell trains (``None``: the suite's or the model's own, see ``Settings``)."""
    from ..bench.grid import GRID_KEYS
    from ..bench.runner import Settings
    from ..bench.suites import Suite

    run.add_argument("--steps", type=int, help="steps per seed (default: the paper's)")
    every, batch = default(Suite, "eval_every"), default(Suite, "batch_size")
    run.add_argument("--eval-every", type=int, help=f"steps between evaluations (default {every})")
    run.add_argument("--batch-size", type=int, help=f"batch size (default {batch})")
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
    run.add_argument(
        "--clip-value", type=float, help="clip each gradient element to ±C (default: the policy's)"
    )
    run.add_argument(
        "--clip-norm", type=float, help="clip each seed's gradient norm to C (default: policy's)"
    )
    run.add_argument(
        "--policy",
        help="training policy for every model (see 'nalm units'); its learning rate and batch "
        "size, where it has them, stand in for the suite's (default auto: each model's own)",
    )
    run.add_argument(
        "--grid",
        action=Extend,
        metavar="KEY=V1,V2",
        help="run every combination of these settings, each its own cells in the store "
        "(repeatable; e.g. --grid lr=1e-3,1e-2 --grid ramp=2e4:1e5,10:1e5:2e5). KEY: "
        + ", ".join(GRID_KEYS),
    )
    run.add_argument(
        "--eval-size",
        type=int,
        default=default(Settings, "eval_size"),
        help="rows per evaluation set",
    )
    switch(
        run,
        "--early-stop",
        "stop a seed once its best interpolation MSE and its extrapolation MSE are both "
        "below the ε-thresholds (it is then a success at that step)",
    )
    switch(
        run,
        "--per-seed-inputs",
        "each seed draws its own input batches (as the papers' code does); by default a "
        "suite's seeds share each step's inputs (their targets differ), which is faster",
    )


def _backend_flags(run: argparse.ArgumentParser) -> None:
    """Where rows go and where cells train."""
    from ..bench.runner import Settings

    run.add_argument("--db", default="results.sqlite", help="results database")
    run.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=default(Settings, "checkpoint_seconds"),
        help="a cell in progress writes its checkpoint (DB.cell-HASH.safetensors) after an "
        "evaluation at most this often (default %(default)g s)",
    )
    run.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="the compiled step (torch.compile: the step's arithmetic as one graph) where it "
        "serves the model and policy: by default for a cell of 50,000 steps or more, with "
        "--compile from 2,000; --no-compile: the eager step (the same arithmetic to float "
        "rounding); which step trains is printed once per cell where it is the compiled one or "
        "--compile was given",
    )
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


def run(args: argparse.Namespace) -> int:
    """Run ``nalm bench run`` or ``nalm bench report``; returns the exit status."""
    from dataclasses import fields

    from ..bench.sweep import Sweep, report

    if args.action == "report":
        paths = report(args.db, args.out, reference=args.reference)
        print(paths["markdown"].read_text())
        if "ranking" in paths:
            print(paths["ranking"].read_text())
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0
    given = {f.name: getattr(args, f.name) for f in fields(Sweep)}
    if given["ranges"] is not None:  # --ranges A --ranges B is --ranges 'A;B'
        given["ranges"] = ";".join(given["ranges"])
    sweep = Sweep(**given)
    summary = sweep.run()
    print("\n".join(sweep.closing_lines(summary)))
    return 0
