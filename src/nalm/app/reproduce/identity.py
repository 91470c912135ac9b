"""Trask et al. (2018), Figure 1: MLPs fail to extrapolate f(x) = x; NAC does not.

Many MLPs per activation (3 hidden layers of 8 units) learn the identity on U[−5, 5] and are
tested on a grid over [−20, 20]. All models of one activation train together as one batched
computation (:func:`nalm.train.fit_seeds`). NAC and NALU stacks of the same shape are added for
contrast. Outputs: ``identity.png`` (mean absolute error against x, training range shaded),
``identity.csv`` (the curves) and ``identity.md`` (the error at |x| = 20 per model).
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ...errors import NalmError
from ...files import open_atomic, write_text
from ...models import parse
from ...reporting import finite_or_none, markdown_table, number
from ...reporting.figures import plt
from ...tasks import ExpressionTask, Range
from ...train.cohort import fit_seeds, predict_seeds
from ...units import MLP, registry
from ..experiment import Experiment, Result, Run

TRASK_ACTIVATIONS = (
    "Hardtanh",
    "Sigmoid",
    "ReLU6",
    "Tanh",
    "Tanhshrink",
    "Hardshrink",
    "LeakyReLU",
    "Softshrink",
    "Softsign",
    "Threshold",
    "ReLU",
    "PReLU",
    "Softplus",
    "ELU",
    "SELU",
)
"""The 15 activations of Trask et al.'s Figure 1, in the paper's order."""


@dataclass(frozen=True)
class IdentitySettings(Experiment):
    """Settings of ``nalm reproduce identity``; the defaults are the full run, ``quick()`` gives
    20 models per row and 3,000 steps (about two minutes here).

    The paper states the architecture, ranges and activations; the training settings
    (Adam, lr 0.01, 10,000 steps, 100 models per activation) follow a common reproduction and
    are not the paper's own (REFERENCE.md marks them unconfirmed).
    """

    name: ClassVar[str] = "identity"
    command: ClassVar[str] = "reproduce identity"
    QUICK: ClassVar[Mapping[str, Any]] = {"models": 20, "steps": 3000}
    STORED_AS: ClassVar[Mapping[str, str]] = {"quick_run": "quick"}

    models: int = 100
    steps: int = 10_000
    lr: float = 0.01
    batch_size: int = 128
    hidden: tuple[int, ...] = (8, 8, 8)
    train_range: str = "-5,5"
    test_range: str = "-20,20"
    activations: tuple[str, ...] = TRASK_ACTIVATIONS
    units: tuple[str, ...] = ("nac", "nalu")
    points: int = 401
    quick_run: bool = False

    def check(self) -> None:
        for what in ("models", "steps", "batch_size", "points"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NalmError(f"{what} must be a positive integer; got {value!r}")
        if self.points < 2:
            raise NalmError(f"points must be at least 2; got {self.points}")
        if not 0 < self.lr < math.inf:
            raise NalmError(f"lr must be a positive number; got {self.lr!r}")
        if not self.activations and not self.units:
            raise NalmError("nothing to train: give at least one activation or unit")
        MLP(1, 1, hidden=self.hidden)  # validates the hidden sizes
        for name in self.activations:
            MLP(1, 1, hidden=(1,), activation=name)  # validates the name
        for name in self.units:
            registry.get(name)
        for text in (self.train_range, self.test_range):
            Range.parse(text)

    def execute(self, run: Run) -> IdentityResult:
        task = ExpressionTask("x0", self.train_range, self.test_range, eval_size=1000)
        low = min(task.train_range.low, task.test_range.low)
        high = max(task.train_range.high, task.test_range.high)
        grid = torch.linspace(low, high, self.points, dtype=torch.float64)
        result = IdentityResult(self, grid.tolist(), [], out=run.out)
        models = identity_models(self)
        for n, (label, build) in enumerate(models.items(), start=1):
            done = run.parts.get(label)
            if done is None:
                done = _train_family(self, run, task, grid, build, f"{label} ({n}/{len(models)})")
                run.parts.put(label, {k: _json(v) for k, v in done.items()})
            curve = Curve(label=label, **{k: _unjson(v) for k, v in done.items()})
            result.curves.append(curve)
            row = result.row(label)
            run.log(
                f"{label:<11} {curve.models} models ({curve.diverged} diverged): MAE "
                f"{number(row['mae_train'], 3)} inside [{self.train_range}], "
                f"{number(row['mae_20'], 2)} at |x| = {max(abs(low), abs(high)):g}"
            )
        return result


@dataclass
class Curve:
    """One model family's error along the grid, over its models that did not diverge."""

    label: str
    mae: list[float]
    median: list[float]
    models: int
    diverged: int
    interpolation_mse: float
    seconds: float

    def at(self, x: list[float], where: Callable[[float], bool], median: bool = False) -> float:
        """The mean over the grid points ``where`` holds of the mean (or median) error."""
        curve = self.median if median else self.mae
        values = [m for xi, m in zip(x, curve, strict=True) if where(xi)]
        return sum(values) / len(values) if values else math.nan


@dataclass
class IdentityResult(Result):
    """What ``nalm reproduce identity`` measured and where it wrote it."""

    settings: IdentitySettings
    x: list[float]
    curves: list[Curve]

    def write_report(self) -> dict[str, Path]:
        """``identity.csv`` (the curves), ``identity.md`` (the table), ``identity.png``."""
        assert self.out is not None
        return {
            "csv": _write_csv(self, self.out / "identity.csv"),
            "markdown": _write_markdown(self, self.out / "identity.md"),
            "png": plot_identity(self, self.out / "identity.png"),
        }

    def row(self, label: str) -> dict[str, float]:
        """``mae_train`` (mean over the grid inside the training range), ``mae_20`` (at |x| = the
        test range's largest magnitude) and ``median_20`` (the median model's error there)."""
        curve = next(c for c in self.curves if c.label == label)
        train = Range.parse(self.settings.train_range)
        edge = max(abs(v) for v in self.x)
        at_edge = lambda v: math.isclose(abs(v), edge)  # noqa: E731
        return {
            "mae_train": curve.at(self.x, train.contains),
            "mae_20": curve.at(self.x, at_edge),
            "median_20": curve.at(self.x, at_edge, median=True),
        }


def identity_models(settings: IdentitySettings) -> dict[str, Callable[[], nn.Module]]:
    """Label → model builder: one MLP per activation, then the units as stacks of the same
    shape (``1 → 8 → 8 → 8 → 1``)."""
    specs = {name: parse(f"mlp:{name}") for name in settings.activations}
    depth = len(settings.hidden) + 1
    for unit in settings.units:
        specs[registry.get(unit).__name__] = parse(unit, layers=depth)
    return {
        label: functools.partial(spec.build, 1, 1, settings.hidden) for label, spec in specs.items()
    }


def run_identity(
    settings: IdentitySettings | None = None,
    out: str | Path | None = None,
    *,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> IdentityResult:
    """Train the models, write ``identity.png``, ``identity.csv``, ``identity.md`` into ``out``
    (default ``runs/identity-<time>``) and return the curves.

    Finished model families are recorded in ``out/parts.jsonl``: re-running with the same
    ``out`` and settings after an interrupt trains only the rest.

    Examples:
        >>> import tempfile
        >>> s = IdentitySettings(models=2, steps=20, activations=("ReLU",), units=("nac",),
        ...                      points=41)
        >>> result = run_identity(s, tempfile.mkdtemp(), progress=False, log=lambda _: None)
        >>> [c.label for c in result.curves], sorted(result.paths)
        (['ReLU', 'NAC'], ['csv', 'markdown', 'png'])
    """
    settings = settings or IdentitySettings()
    return settings.run(out, device=device, progress=progress, log=log)  # type: ignore[return-value]


def _train_family(
    s: IdentitySettings,
    run: Run,
    task: ExpressionTask,
    grid: torch.Tensor,
    build: Callable[[], nn.Module],
    description: str,
) -> dict[str, Any]:
    """Train one model family's seeds together and measure their error along ``grid``."""
    seeds = list(range(s.models))
    result = fit_seeds(
        build,
        [task] * len(seeds),
        seeds,
        steps=s.steps,
        lr=s.lr,
        batch_size=s.batch_size,
        policy="auto",
        eval_every=s.steps,
        device=run.device,
        progress=run.progress,
        description=description,
    )
    ok = [r for r in result.runs if not r.diverged]
    points = len(grid)
    errors = torch.empty(0, points, dtype=torch.float64)
    if ok:
        weights = [r.weights for r in ok]
        pred = predict_seeds(build, weights, grid.float().unsqueeze(1), device=run.device)
        errors = (pred[..., 0].double() - grid).abs()
        errors = errors[torch.isfinite(errors).all(dim=1)]
    # the MSE on the task's fixed training-range set after the last step
    train = [r.history[-1]["interpolation_mse"] for r in ok]
    return {
        "mae": errors.mean(0).tolist() if len(errors) else [math.nan] * points,
        "median": errors.median(0).values.tolist() if len(errors) else [math.nan] * points,
        "models": len(errors),
        "diverged": len(seeds) - len(errors),
        "interpolation_mse": float(torch.tensor(train).median()) if train else math.nan,
        "seconds": result.seconds,
    }


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return finite_or_none(value) if isinstance(value, float) else value


def _unjson(value: Any) -> Any:
    if isinstance(value, list):
        return [math.nan if v is None else v for v in value]
    return math.nan if value is None else value


def _write_csv(result: IdentityResult, path: Path) -> Path:
    with open_atomic(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "x", "mae_mean", "mae_median", "models", "diverged"])
        for c in result.curves:
            for xi, mean, median in zip(result.x, c.mae, c.median, strict=True):
                writer.writerow([c.label, f"{xi:g}", mean, median, c.models, c.diverged])
    return path


def _write_markdown(result: IdentityResult, path: Path) -> Path:
    s = result.settings
    edge = max(abs(v) for v in result.x)
    rows = []
    for c in sorted(result.curves, key=lambda c: _sort_key(result.row(c.label)["mae_20"])):
        row = result.row(c.label)
        rows.append(
            [
                c.label,
                f"{c.models}" + (f" (+{c.diverged} diverged)" if c.diverged else ""),
                number(c.interpolation_mse, 4),
                number(row["mae_train"], 3),
                number(row["mae_20"], 2),
                number(row["median_20"], 2),
            ]
        )
    header = [
        "# Trask et al. 2018, Figure 1: learning f(x) = x",
        "",
        *(
            [
                "**Quick run** (`--quick`): a smaller version of the full reproduction (settings "
                "below); its numbers are rougher.",
                "",
            ]
            if s.quick_run
            else []
        ),
        f"MLPs with hidden layers {'×'.join(map(str, s.hidden))} learn f(x) = x on "
        f"U[{s.train_range}] and are tested on a grid of {s.points} points over "
        f"[{s.test_range}]. {s.models} models per row (seeds 0–{s.models - 1}), Adam lr {s.lr:g}, "
        f"batch {s.batch_size}, {s.steps:,} steps; the unit rows are stacks of the same shape. "
        "Mean absolute error over the models that did not diverge. Training time "
        f"{sum(c.seconds for c in result.curves):.0f} s (summed over the rows, whichever run "
        "trained them).",
        "",
        markdown_table(
            [
                "model",
                "models",
                "MSE on the training range at the end (median)",
                f"MAE inside [{s.train_range}]",
                f"MAE at |x| = {edge:g}",
                f"median model's error at |x| = {edge:g}",
            ],
            rows,
        ),
        "",
        "Rows are sorted by the error at the edge of the test range. The mean is pulled up by "
        "the few models that learned least; the median model's error shows the typical one.",
    ]
    if "Threshold" in s.activations and "ReLU" in s.activations:
        header += [
            "",
            "`Threshold` is torch's `Threshold(threshold=0, value=0)`, which computes ReLU: with "
            "the same seeds its row equals the ReLU row (the paper does not give its settings).",
        ]
    write_text(path, "\n".join(header) + "\n")
    return path


def _sort_key(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def plot_identity(result: IdentityResult, path: Path) -> Path:
    """Mean absolute error against x, one curve per model family, log scale, training range
    shaded; the unit rows drawn in black."""
    s = result.settings
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for lo, hi in Range.parse(s.train_range).intervals:
        ax.axvspan(lo, hi, color="0.9", zorder=0, label="training range")
    mlps = [c for c in result.curves if c.label in s.activations]
    units = [c for c in result.curves if c.label not in s.activations]
    colors = plt.get_cmap("tab20")
    # Log scale: a linear model's error |1 − w|·|x| dips to 0 at x = 0; keep that dip from
    # stretching the axis by starting it two decades below the lowest curve's typical value.
    typical = [
        sorted(v for v in c.mae if v > 0)[len([v for v in c.mae if v > 0]) // 2]
        for c in result.curves
        if any(v > 0 for v in c.mae)
    ]
    floor = 10 ** math.floor(math.log10(min(typical) / 100)) if typical else 1e-12
    for i, c in enumerate(mlps):
        ax.plot(
            result.x,
            [max(v, floor) for v in c.mae],
            color=colors(i % 20),
            linewidth=1.3,
            linestyle="-" if i < 10 else "--",
            label=c.label,
        )
    for i, c in enumerate(units):
        ax.plot(
            result.x,
            [max(v, floor) for v in c.mae],
            color="black",
            linewidth=2.4,
            linestyle=("-", ":", "-.")[i % 3],
            label=f"{c.label} (unit)",
        )
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xlim(min(result.x), max(result.x))
    ax.set_xlabel("x")
    ax.set_ylabel("mean absolute error |f̂(x) − x|")
    quick = " — quick run" if s.quick_run else ""
    ax.set_title(
        f"f(x) = x, trained on [{s.train_range}] (shaded): {s.models} models per curve{quick}"
    )
    ax.legend(fontsize=7.5, ncol=1, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    with open_atomic(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
    return path
