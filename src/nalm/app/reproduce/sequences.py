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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import NalmError
from ...models import TORCH_CELLS, parse
from ...reporting import number
from ...tasks.digits import DigitImages, load_mnist, load_sklearn_digits
from ...tasks.sequences import DigitSequenceTask, ProgramTask, WordsTask
from ...train import fit
from ..experiment import Experiment, Result, Run
from .sequence_fields import SequenceFields
from .sequence_models import SequenceModel, TokenEncoder, build_model, image_encoder, make_cell
from .sequence_report import PUBLISHED_WORDS, claims, write_report

EXPERIMENTS = ("digits", "product", "words", "programs")

__all__ = [
    "DEFAULTS",
    "EXPERIMENTS",
    "PUBLISHED_WORDS",
    "SequenceModel",
    "SequenceResult",
    "SequenceSettings",
    "TokenEncoder",
    "build_model",
    "claims",
    "image_encoder",
    "make_cell",
    "run_sequences",
    "settings_for",
]


@dataclass(frozen=True)
class SequenceSettings(SequenceFields, Experiment):
    """Settings of one sequence experiment (``quick()`` gives the ``--quick`` ones: one seed and
    a quarter of the steps)."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.experiment

    @property
    def command(self) -> str:  # type: ignore[override]
        return f"reproduce {self.experiment}"

    def _quick_values(self) -> dict[str, Any]:
        return {"seeds": 1, "steps": max(self.steps // 4, 1)}

    def check(self) -> None:
        if self.experiment not in DEFAULTS:
            raise NalmError(
                f"unknown experiment {self.experiment!r}; choose one of {', '.join(EXPERIMENTS)}"
            )
        for key in ("steps", "seeds", "test_sequences", "batch_size", "hidden"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NalmError(
                    f"--{key.replace('_', '-')} must be a positive integer; got {value!r}"
                )
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < math.inf):
            raise NalmError(f"--lr must be a positive number; got {self.lr!r}")
        if self.mnist_dir is not None and not Path(self.mnist_dir).is_dir():
            raise NalmError(f"--mnist-dir {self.mnist_dir} is not a directory")
        _check_models(self.experiment, self.models)
        allowed = ("product",) if self.experiment == "product" else ("count", "sum")
        bad = [k for k in self.kinds if k not in allowed]
        if bad:
            raise NalmError(f"--kinds takes {' and '.join(allowed)}; got {bad[0]!r}")

    def execute(self, run: Run) -> SequenceResult:
        images = _images(self) if self.experiment in ("digits", "product") else None
        result = SequenceResult(self, [], images.source if images else "", out=run.out)
        for kind, task in _tasks(self, images).items():
            for name in self.models:
                for seed in range(self.seeds):
                    key = f"{kind}|{name}|{seed}"
                    done = run.parts.get(key)
                    if done is None:
                        done = _train_one(self, kind, name, seed, task, run.device, run.progress)
                        run.parts.put(key, done)
                        run.log(
                            f"{self.experiment} {kind or ''} {name} seed {seed}: {_summary(done)}"
                        )
                    result.rows += [{"kind": kind, "model": name, "seed": seed, **r} for r in done]
        return result


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
    """The experiment's default settings (``quick``: at the ``--quick`` size), with ``changes``
    (``None`` values ignored), checked."""
    if experiment not in DEFAULTS:
        raise NalmError(
            f"unknown experiment {experiment!r}; choose one of {', '.join(EXPERIMENTS)}"
        )
    settings = DEFAULTS[experiment].quick() if quick else DEFAULTS[experiment]
    settings = replace(settings, **{k: v for k, v in changes.items() if v is not None})
    settings.check()
    return settings


def _check_models(experiment: str, models: Sequence[str]) -> None:
    for name in models:
        spec = parse(name, recurrent=True)
        if experiment in ("words", "programs") and spec.cell not in TORCH_CELLS:
            raise NalmError(f"{experiment} models read tokens with lstm, gru or rnn; got {name!r}")
        if experiment in ("digits", "product") and spec.layers:
            raise NalmError(
                f"{experiment} models are one cell (lstm, acc:nau, nmu, ...); got {name!r}"
            )


# -- running ------------------------------------------------------------------------------------
def _images(settings: SequenceSettings) -> DigitImages:
    if settings.mnist_dir:
        return load_mnist(settings.mnist_dir)
    return load_sklearn_digits()


@dataclass
class SequenceResult(Result):
    """The rows of one sequence experiment (one per model, seed, kind and length or split)."""

    settings: SequenceSettings
    rows: list[dict[str, Any]]
    source: str = ""

    def write_report(self) -> dict[str, Path]:
        """``NAME.csv`` (every row), ``NAME.md`` (tables and the claims) and ``NAME.png``."""
        assert self.out is not None
        return write_report(self.out, self.settings, self.rows, self.source)


def _tasks(settings: SequenceSettings, images: DigitImages | None) -> dict[str | None, Any]:
    if images is not None:
        return {
            kind: DigitSequenceTask(images, kind, 2 if kind == "product" else 10, eval_size=100)
            for kind in settings.kinds
        }
    return {None: WordsTask() if settings.experiment == "words" else ProgramTask()}


def run_sequences(
    experiment: str,
    settings: SequenceSettings | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Train every model and seed of one experiment, write its report into ``out`` and return
    the run directory (``settings.run(...)`` returns the whole :class:`SequenceResult`)."""
    settings = settings or settings_for(experiment)
    result = settings.run(out, device=device, progress=progress, log=log)
    assert result.out is not None
    return result.out


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
