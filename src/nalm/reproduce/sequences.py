"""Trask et al.'s sequence experiments (§4.2–4.4) and Madsen & Johansen's cumulative product.

Four commands, each ``nalm reproduce NAME [--quick] [--out DIR]``, writing ``NAME.md``,
``NAME.csv`` and ``NAME.png`` (error against sequence length, or per split, one line per model):

- ``digits``: sequences of handwritten digits (scikit-learn's 8×8 by default, MNIST with
  ``--mnist-dir``); an image network reads each digit, a recurrent part counts them (``count``,
  10 outputs) or sums them (``sum``). Trained on length 10 with the running target at every step,
  tested on lengths 1, 10, 100 and 1000: accuracy of the rounded output and MAE.
- ``product``: digits 1–9, the running product; trained on length 2, tested on 1–20.
- ``words``: numbers 0–999 in English words → value; token embedding → LSTM → head.
- ``programs``: small programs (assignments, + −, if-then-else) read token by token.

Every model is ``encoder → recurrent cell → head``; the encoder and the baselines are plain
torch, the arithmetic cells come from the unit registry. Finished (model, seed) pairs go to
``DIR/parts.jsonl`` so an interrupted run resumes.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import NalmError
from ..models import TORCH_CELLS, parse
from ..reporting import finite_or_none, markdown_table, number
from ..reporting.figures import plt
from ..runs import new_run_dir, write_config
from ..tasks.digits import DigitImages, load_mnist, load_sklearn_digits
from ..tasks.sequences import DigitSequenceTask, ProgramTask, WordsTask
from ..train import fit
from .common import Parts

EXPERIMENTS = ("digits", "product", "words", "programs")
PUBLISHED_WORDS = {"lstm": 29.4, "lstm>nalu": 0.42}
"""Trask et al. (2018), language to number, test MAE, as quoted in the project's reference notes
(not checked against the paper: unconfirmed)."""


class SequenceModel(nn.Module):
    """``encoder`` on every step → ``cell`` over time → ``head`` on the state.

    With ``per_step=True`` the head reads the state after every step (``(N, T, out)``, for
    running targets); otherwise only the last state (``(N, out)``). The output is multiplied by
    the constant ``scale``: targets in the hundreds are then within reach of a head whose
    weights Adam moves by about the learning rate per step.
    """

    def __init__(
        self,
        encoder: nn.Module,
        cell: nn.Module,
        head: nn.Module,
        per_step: bool,
        scale: float = 1.0,
    ):
        super().__init__()
        self.encoder, self.cell, self.head, self.per_step = encoder, cell, head, per_step
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.encoder(x)
        state = self.cell.initial(e[:, 0])
        outputs = []
        for t in range(e.shape[1]):
            state = self.cell(e[:, t], state)
            if self.per_step:
                outputs.append(self.head(self.cell.output(state)))
        if self.per_step:
            return torch.stack(outputs, dim=1) * self.scale
        return self.head(self.cell.output(state)) * self.scale


class TokenEncoder(nn.Module):
    """``(N, T, 2)`` (token id, value) → ``(N, T, dim + 1)``: an embedding and the value."""

    def __init__(self, vocabulary: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.embedding(x[..., 0].long()), x[..., 1:]], dim=-1)


def image_encoder(pixels: int, out: int, softmax: bool) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(pixels, 64), nn.ReLU(), nn.Linear(64, out)]
    if softmax:
        layers.append(nn.Softmax(dim=-1))
    return nn.Sequential(*layers)


def make_cell(kind: str, size: int, out: int, hidden: int, initial: float = 0.0) -> tuple:
    """``(cell, head)`` for a model name (:meth:`nalm.models.ModelSpec.cell_and_head`)."""
    return parse(kind, recurrent=True).cell_and_head(size, out, hidden, initial=initial)


@dataclass(frozen=True)
class SequenceSettings:
    """Settings of one sequence experiment (``quick()`` gives the ``--quick`` ones)."""

    experiment: str
    models: tuple[str, ...]
    seeds: int = 3
    steps: int = 5000
    lr: float = 1e-3
    batch_size: int = 32
    hidden: int = 32
    lengths: tuple[int, ...] = (1, 10, 100, 1000)
    test_sequences: int = 100
    kinds: tuple[str, ...] = ("count", "sum")
    mnist_dir: str | None = None
    quick_run: bool = False

    def quick(self) -> SequenceSettings:
        return replace(self, seeds=1, steps=max(self.steps // 4, 1), quick_run=True)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


DEFAULTS = {
    "digits": SequenceSettings(
        "digits", ("lstm", "gru", "rnn", "acc:nac", "acc:nau", "nalu"), steps=6000, lr=1e-2
    ),
    "product": SequenceSettings(
        "product",
        ("lstm", "gru", "nmu", "nac_mul", "nalu", "real_npu"),
        steps=6000,
        lr=1e-2,
        lengths=tuple(range(1, 21)),
        kinds=("product",),
    ),
    "words": SequenceSettings(
        "words", ("lstm", "gru", "lstm>nalu", "lstm>nau"), steps=6000, lr=1e-2, kinds=()
    ),
    "programs": SequenceSettings(
        "programs", ("lstm", "lstm>nalu", "lstm>nau", "gru"), steps=6000, lr=3e-3, kinds=()
    ),
}


def settings_for(experiment: str, quick: bool = False, **changes: Any) -> SequenceSettings:
    if experiment not in DEFAULTS:
        raise NalmError(
            f"unknown experiment {experiment!r}; choose one of {', '.join(EXPERIMENTS)}"
        )
    settings = DEFAULTS[experiment]
    if quick:
        settings = settings.quick()
    changes = {k: v for k, v in changes.items() if v is not None}
    for key in ("steps", "seeds", "test_sequences", "batch_size", "hidden"):
        value = changes.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise NalmError(f"--{key.replace('_', '-')} must be a positive integer; got {value!r}")
    lr = changes.get("lr")
    if lr is not None and not (isinstance(lr, (int, float)) and 0 < lr < math.inf):
        raise NalmError(f"--lr must be a positive number; got {lr!r}")
    mnist = changes.get("mnist_dir")
    if mnist is not None and not Path(mnist).is_dir():
        raise NalmError(f"--mnist-dir {mnist} is not a directory")
    if "models" in changes:
        _check_models(experiment, changes["models"])
    bad = [k for k in changes.get("kinds", ()) if k not in ("count", "sum")]
    if bad:
        raise NalmError(f"--kinds takes count and sum; got {bad[0]!r}")
    return replace(settings, **changes)


def _check_models(experiment: str, models: Sequence[str]) -> None:
    for name in models:
        spec = parse(name, recurrent=True)
        if experiment in ("words", "programs") and spec.cell not in TORCH_CELLS:
            raise NalmError(f"{experiment} models read tokens with lstm, gru or rnn; got {name!r}")
        if experiment in ("digits", "product") and spec.layers:
            raise NalmError(
                f"{experiment} models are one cell (lstm, acc:nau, nmu, ...); got {name!r}"
            )


# -- building one model -------------------------------------------------------------------------
def build_model(settings: SequenceSettings, kind: str, name: str, task: Any) -> nn.Module:
    """The model ``name`` for an experiment's task (``kind``: count, sum, product, or None)."""
    h = settings.hidden
    if settings.experiment in ("digits", "product"):
        out = 10 if kind == "count" else 1
        encoder = image_encoder(task.in_features, 10 if kind == "count" else 1, kind == "count")
        size = 10 if kind == "count" else 1
        cell, head = make_cell(name, size, out, h, initial=1.0 if kind == "product" else 0.0)
        return SequenceModel(encoder, cell, head, per_step=True)
    encoder = TokenEncoder(len(task.vocabulary), 16)
    cell, head = make_cell(name, 17, 1, h)
    scale = 100.0 if settings.experiment == "words" else 10.0  # values up to 999; about ±300
    return SequenceModel(encoder, cell, head, per_step=False, scale=scale)


# -- running ------------------------------------------------------------------------------------
def _images(settings: SequenceSettings) -> DigitImages:
    if settings.mnist_dir:
        return load_mnist(settings.mnist_dir)
    return load_sklearn_digits()


def run_sequences(
    experiment: str,
    settings: SequenceSettings | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Train every model and seed of one experiment and write its report into ``out``."""
    settings = settings or settings_for(experiment)
    out = new_run_dir(experiment, out)
    write_config(out, {"command": f"reproduce {experiment}", **settings.to_dict()})
    parts = Parts(out, settings.to_dict())
    images = _images(settings) if experiment in ("digits", "product") else None
    tasks: dict[str | None, Any] = {}
    if images is not None:
        for kind in settings.kinds:
            length = 2 if kind == "product" else 10
            tasks[kind] = DigitSequenceTask(images, kind, length, eval_size=100)
    elif experiment == "words":
        tasks[None] = WordsTask()
    else:
        tasks[None] = ProgramTask()
    rows: list[dict[str, Any]] = []
    for kind, task in tasks.items():
        for name in settings.models:
            for seed in range(settings.seeds):
                key = f"{kind}|{name}|{seed}"
                done = parts.get(key)
                if done is None:
                    done = _train_one(settings, kind, name, seed, task, device, progress)
                    parts.put(key, done)
                    log(f"{experiment} {kind or ''} {name} seed {seed}: {_summary(done)}")
                rows += [{"kind": kind, "model": name, "seed": seed, **r} for r in done]
    _write_report(out, experiment, settings, rows, images)
    return out


def _train_one(settings, kind, name, seed, task, device, progress) -> list[dict[str, Any]]:
    torch.manual_seed(seed)
    model = build_model(settings, kind, name, task)
    result = fit(
        model,
        task,
        steps=settings.steps,
        lr=settings.lr,
        batch_size=settings.batch_size,
        eval_every=max(settings.steps // 5, 1),
        seed=seed,
        device=device,
        progress=progress,
        description=f"{kind or settings.experiment} {name} s{seed}",
    )
    diverged = result.diverged_at
    seconds = round(result.seconds, 1)
    model.eval()
    rows = []
    with torch.no_grad():
        if isinstance(task, DigitSequenceTask):
            for length in settings.lengths:
                x, y = task.test_set(length, settings.test_sequences, seed=seed)
                predicted = _last(model, x, device).double()
                rows.append(_scores(str(length), predicted, y, diverged))
        else:
            for split, (x, y) in task.splits.items():
                predicted = _last(model, x, device).double()
                rows.append(_scores(split, predicted, y.double(), diverged))
    return [{**r, "seconds": seconds} for r in rows]


def _last(model: nn.Module, x: torch.Tensor, device: str, chunk: int = 256) -> torch.Tensor:
    parts = []
    for start in range(0, len(x), chunk):
        y = model(x[start : start + chunk].to(device)).cpu()
        parts.append(y[:, -1] if y.dim() == 3 else y)
    return torch.cat(parts)


def _scores(where: str, predicted: torch.Tensor, y: torch.Tensor, diverged: int | None) -> dict:
    if diverged is not None or not torch.isfinite(predicted).all():
        scale = y.abs().mean().item()
        return {
            "at": where,
            "accuracy": 0.0,
            "mae": math.inf,
            "scale": scale,
            "diverged_at": diverged,
        }
    exact = (predicted.round() == y).all(dim=-1).double().mean().item()
    mae = (predicted - y).abs().mean().item()
    scale = y.abs().mean().item()  # the MAE of predicting 0
    return {"at": where, "accuracy": exact, "mae": mae, "scale": scale, "diverged_at": diverged}


def _summary(rows: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{r['at']}: acc {100 * r['accuracy']:.0f} % MAE {number(r['mae'], 2)}" for r in rows
    )


# -- the report ---------------------------------------------------------------------------------
@dataclass
class Cell:
    accuracy: list[float] = field(default_factory=list)
    mae: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    def mean(self, what: str) -> float:
        values = getattr(self, what)
        return sum(values) / len(values) if values else math.nan


def _cells(rows: list[dict[str, Any]]) -> dict[tuple, Cell]:
    cells: dict[tuple, Cell] = {}
    for r in rows:
        cell = cells.setdefault((r["kind"], r["model"], r["at"]), Cell())
        cell.accuracy.append(r["accuracy"])
        cell.mae.append(r["mae"])
        if r.get("scale") is not None:
            cell.scale.append(r["scale"])
    return cells


def claims(experiment: str, rows: list[dict[str, Any]], settings: SequenceSettings) -> list[str]:
    """The papers' qualitative claims, checked against our numbers (one line each)."""
    cells = _cells(rows)
    lines = []
    if experiment in ("digits", "product"):
        far = str(settings.lengths[-1])
        for kind in settings.kinds:
            units = [m for m in settings.models if m not in ("lstm", "gru", "rnn")]
            rnns = [m for m in settings.models if m in ("lstm", "gru", "rnn")]
            if not units or not rnns:
                continue
            best_unit = min(units, key=lambda m: _relative(cells, kind, m, far))
            best_rnn = min(rnns, key=lambda m: _relative(cells, kind, m, far))
            u, r = _relative(cells, kind, best_unit, far), _relative(cells, kind, best_rnn, far)
            if u < min(r, 0.5):
                verdict = "**holds** (the arithmetic cell is lower, and within 50 %)."
            elif u < r:
                verdict = (
                    "**does not hold here**: the arithmetic cell is lower, but 50 % off or more."
                )
            else:
                verdict = "**does not hold here**."
            lines.append(
                f"{kind}: the best arithmetic cell ({best_unit}) has MAE / mean |target| "
                f"{number(u, 3)} at length {far}, the best of LSTM/GRU/RNN ({best_rnn}) "
                f"{number(r, 3)} (1 is what predicting 0 scores): " + verdict
            )
    elif experiment == "words":
        lstm = cells.get((None, "lstm", "test"))
        nalu = cells.get((None, "lstm>nalu", "test"))
        if lstm and nalu:
            holds = nalu.mean("mae") < lstm.mean("mae")
            lines.append(
                f"LSTM+NALU test MAE {number(nalu.mean('mae'), 2)} vs LSTM "
                f"{number(lstm.mean('mae'), 2)} (paper, unconfirmed: 0.42 vs 29.4): "
                + ("**holds** (LSTM+NALU is lower)." if holds else "**does not hold here**.")
            )
    else:
        lines.extend(
            f"{m}: MAE {number(cells[(None, m, 'interpolation')].mean('mae'), 2)} on programs "
            f"like the training ones, {number(cells[(None, m, 'extrapolation')].mean('mae'), 2)} "
            "with larger constants."
            for m in settings.models
            if (None, m, "extrapolation") in cells
        )
        plain = [m for m in settings.models if ">" not in m and (None, m, "extrapolation") in cells]
        units = [m for m in settings.models if ">" in m and (None, m, "extrapolation") in cells]
        if plain and units:
            best_unit = min(units, key=lambda m: cells[(None, m, "extrapolation")].mean("mae"))
            best_plain = min(plain, key=lambda m: cells[(None, m, "extrapolation")].mean("mae"))
            u = cells[(None, best_unit, "extrapolation")].mean("mae")
            r = cells[(None, best_plain, "extrapolation")].mean("mae")
            lines.append(
                f"Trask et al. report that NALU extrapolates here where LSTMs do not (no numbers "
                f"to set beside ours): the best unit head ({best_unit}) has extrapolation MAE "
                f"{number(u, 2)}, the best plain recurrent model ({best_plain}) {number(r, 2)}: "
                + ("**holds** (the unit head is lower)." if u < r else "**does not hold here**.")
            )
    return lines


def _relative(cells: dict[tuple, Cell], kind: str, model: str, at: str) -> float:
    """MAE over the mean |target| (1.0 is what predicting 0 scores)."""
    cell = cells.get((kind, model, at))
    if cell is None or not cell.scale:
        return math.inf
    return cell.mean("mae") / cell.mean("scale")


def _write_report(out, experiment, settings, rows, images) -> None:
    cells = _cells(rows)
    columns = list(dict.fromkeys(r["at"] for r in rows))
    with (out / f"{experiment}.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["kind", "model", "seed", "at", "accuracy", "mae", "diverged_at"])
        for r in rows:
            writer.writerow(
                [
                    r["kind"] or "",
                    r["model"],
                    r["seed"],
                    r["at"],
                    r["accuracy"],
                    finite_or_none(r["mae"]),
                    r["diverged_at"] if r["diverged_at"] is not None else "",
                ]
            )
    what = "length" if experiment in ("digits", "product") else "split"
    lines = [f"# nalm reproduce {experiment}", ""]
    if settings.quick_run:
        lines += [
            f"**Quick run** ({settings.seeds} seed(s), {settings.steps} steps): a smoke test, "
            "not the paper's settings.",
            "",
        ]
    source = images.source if images is not None else ""
    lines += [
        f"{settings.seeds} seed(s) per model, {settings.steps} Adam steps (lr {settings.lr:g}, "
        f"batch {settings.batch_size}), hidden size {settings.hidden}. {source}",
        "Cells: accuracy of the rounded output (all entries right) / MAE, mean over seeds, "
        f"by {what}.",
        _training_time(rows, columns[0]),
        "",
    ]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        if kind:
            lines += [f"## {kind}", ""]
        header = ["model", *columns]
        if experiment == "words":
            header.append("published test MAE (unconfirmed)")
        table_rows = []
        for model in settings.models:
            row = [model]
            for at in columns:
                cell = cells.get((kind, model, at))
                row.append(
                    "-"
                    if cell is None
                    else f"{100 * cell.mean('accuracy'):.0f} % / {number(cell.mean('mae'), 2)}"
                )
            if experiment == "words":
                row.append(str(PUBLISHED_WORDS.get(model, "-")))
            table_rows.append(row)
        lines += [markdown_table(header, table_rows), ""]
    lines += ["## Claims checked", "", *[f"- {c}" for c in claims(experiment, rows, settings)], ""]
    diverged = sum(r["diverged_at"] is not None for r in rows if r["at"] == columns[0])
    lines.append(f"{diverged} of {len(rows) // max(len(columns), 1)} trained models diverged.")
    (out / f"{experiment}.md").write_text("\n".join(lines) + "\n")
    _plot(out / f"{experiment}.png", experiment, settings, cells, columns)


def _training_time(rows: list[dict[str, Any]], first: str) -> str:
    times = [r.get("seconds") for r in rows if r["at"] == first]
    if not times or any(t is None for t in times):
        return ""
    return f"Training time, summed over models and seeds: {sum(times):.0f} s."


def _plot(path, experiment, settings, cells, columns) -> None:
    kinds = list(dict.fromkeys(k for k, _, _ in cells))
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.2), squeeze=False)
    numeric = experiment in ("digits", "product")
    for ax, kind in zip(axes[0], kinds, strict=True):
        for i, model in enumerate(settings.models):
            xs, ys = [], []
            for j, at in enumerate(columns):
                cell = cells.get((kind, model, at))
                if cell is not None and math.isfinite(cell.mean("mae")):
                    xs.append(float(at) if numeric else j)
                    ys.append(max(cell.mean("mae"), 1e-6))
            ax.plot(xs, ys, marker="o", label=model, color=f"C{i}")
        if numeric:
            ax.set_xscale("log" if experiment == "digits" else "linear")
            ax.set_xlabel(
                "sequence length (trained on %s)" % ("10" if experiment == "digits" else "2")
            )
        else:
            ax.set_xticks(range(len(columns)), columns)
            ax.set_xlabel("split")
        ax.set_yscale("log")
        ax.set_ylabel("MAE")
        ax.set_title(f"{experiment} {kind or ''}".strip())
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
