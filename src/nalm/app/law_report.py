"""``nalm fit`` without ``--unit``: the law search (:func:`~.search.find_law`) on a table, its
printed report and its run directory (``config.json``, ``formulas.md``, ``fit.png``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
import torch

from ..files import write_text
from ..fitting.constants import evaluate, max_relative_error
from ..fitting.names import formula_names, legend, shown
from ..fitting.search import Law, find_law
from ..reporting import markdown_table, table
from ..tasks.base import DatasetTask
from . import runs
from .experiment import Result, Run
from .plots import save_parity_plot

if TYPE_CHECKING:
    from ..fitting.fields import FitFields


@dataclass
class LawResult(Result):
    """The law found in a table, every family tried, and the errors on the test file."""

    settings: FitFields
    task: DatasetTask
    names: list[str]
    law: Law
    test_errors: dict[int, float] = field(default_factory=dict)  # attempt → max rel. error
    device: str = "cpu"

    @property
    def symbols(self) -> list[str]:
        return formula_names(self.names)

    def equation(self, formula: sympy.Expr | None) -> str:
        text = f"{shown(self.settings.target)} = {'-' if formula is None else formula}"
        where = legend(self.names, self.symbols)
        return f"{text}    {where}" if where and formula is not None else text

    def rows(self) -> list[list[str]]:
        has_test = self.settings.test is not None
        out = []
        for i, a in enumerate(self.law.tried):
            family = a.structure if a.trained else f"{a.structure}, least squares"
            row = [family, "-" if a.formula is None else str(a.formula)]
            row += ["yes" if a.exact else "no", _error(a.error)]
            if has_test:
                row.append(_error(self.test_errors.get(i, math.inf)))
            row.append(f"{a.seconds:.1f}")
            out.append(row)
        return out

    def headers(self) -> list[str]:
        headers = ["family", "formula", "exact", "max rel. error (held back)"]
        if self.settings.test is not None:
            headers.append("max rel. error (test)")
        return [*headers, "seconds"]

    def verdict(self) -> str:
        """One sentence: the law, or that none is exact and the most accurate formula."""
        law = self.law
        if law.formula is None:
            return (
                "no formula: every family's seeds diverged or gave no finite formula; try a "
                "larger --budget, or --unit to name a model"
            )
        if law.exact:
            return (
                f"law: {self.equation(law.formula)}\n     exact on the {law.held_back} rows held "
                f"back from training ({law.structure}{'' if law.trained else ', by least squares'}"
                f", found in {law.seconds:.0f} s)"
            )
        return (
            f"no exact formula within {self.settings.budget:g} s; the most accurate: "
            f"{self.equation(law.formula)}\n     max rel. error {law.error:.2g} on the "
            f"{law.held_back} rows held back ({law.structure})"
        )

    def write_report(self) -> dict[str, Path]:
        assert self.out is not None
        s, law = self.settings, self.law
        runs.write_config(
            self.out,
            {
                **s.config(self.device),
                "inputs": self.names,
                "task": self.task.config(),
                "law": None if law.formula is None else str(law.formula),
                "exact": law.exact,
                "family": law.structure,
                "trained": law.trained,
                "held_back_rows": law.held_back,
                "seconds": round(law.seconds, 3),
                "symbols": dict(zip(self.symbols, self.names, strict=True)),
                "tried": [
                    {
                        "family": a.structure,
                        "formula": None if a.formula is None else str(a.formula),
                        "exact": a.exact,
                        "max_rel_error_held_back": _number(a.error),
                        "max_rel_error_test": _number(self.test_errors.get(i)),
                        "seconds": round(a.seconds, 3),
                        "trained": a.trained,
                    }
                    for i, a in enumerate(law.tried)
                ],
            },
        )
        lines = [
            f"# nalm fit: {s.target} from {', '.join(self.names)}",
            "",
            markdown_table(self.headers(), self.rows()),
            "",
            self.verdict().replace("\n     ", " "),
        ]
        paths = {"markdown": self.out / "formulas.md"}
        write_text(paths["markdown"], "\n".join(lines) + "\n")
        if law.formula is not None:
            shown_law = _Shown(str(law.formula), law.formula, self.symbols)
            paths["png"] = save_parity_plot(self.out / "fit.png", [shown_law], self.task, s.target)
        return paths


@dataclass
class _Shown:
    """The law as :func:`save_parity_plot` wants a candidate: ``spec`` and ``predict``."""

    spec: str
    formula: sympy.Expr
    symbols: list[str]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        values = evaluate(self.formula, self.symbols, x.double().numpy())
        return torch.as_tensor(np.array(values))[:, None]


def _error(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2g}"


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def search_law(settings: FitFields, run: Run, **search: Any) -> LawResult:
    """Run the law search of ``settings`` (a :class:`~.run.FitSettings`'s fields) and print its
    report."""
    train_table, test_table, task, names = settings.tables()
    symbols = formula_names(names)
    x = train_table.select(names).numpy().astype(np.float64)
    y = train_table.column(settings.target).numpy().astype(np.float64)
    tested = f", tested on {len(test_table)} rows in {settings.test}" if test_table else ""
    run.log(
        f"searching for {settings.target} as a law of {', '.join(names)}: {len(train_table)} "
        f"rows in {settings.data}{tested}; budget {settings.budget:g} s"
    )
    if legend(names, symbols):
        run.log(f"the formulas name the inputs {legend(names, symbols)[6:]}")
    law = find_law(
        x,
        y,
        symbols,
        budget=settings.budget,
        seed=settings.first_seed,
        progress=run.progress,
        log=lambda line: run.log(f"  {line}"),
        **search,
    )
    result = LawResult(settings, task, names, law, device=str(run.device), out=run.out)
    if test_table is not None:
        xt = test_table.select(names).numpy().astype(np.float64)
        yt = test_table.column(settings.target).numpy().astype(np.float64)
        for i, a in enumerate(law.tried):
            if a.formula is not None:
                result.test_errors[i] = max_relative_error(evaluate(a.formula, symbols, xt), yt)
    run.log("")
    run.log(table(result.headers(), result.rows()))
    run.log(f"\n{result.verdict()}")
    run.log(f"\nrun directory: {run.out}")
    return result
