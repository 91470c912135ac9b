"""``nalm fit`` as an experiment: read the table(s), fit every unit, print and save what each
learned (``config.json``, ``metrics.csv``, ``formulas.md``, a model file per unit, ``fit.png``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..files import write_text
from ..fitting.candidates import (
    CLOSE,
    Candidate,
    best_candidate,
    closest_candidate,
    fit_candidates,
    parse_specs,
    unexplained,
)
from ..fitting.fields import FitFields
from ..fitting.names import formula_names, legend, shown
from ..fitting.search import Law, split_rows
from ..limits import check_number
from ..reporting import fmt, markdown_table, table
from ..tasks.base import DatasetTask
from . import runs
from .experiment import Experiment, Result, Run
from .law_report import LawResult, search_law
from .plots import save_parity_plot


@dataclass(frozen=True)
class FitSettings(FitFields, Experiment):
    """Settings of ``nalm fit`` (the fields: :class:`~.fields.FitFields`): the CSV ``data``
    (and ``test``) file, the ``target`` column, and either the law search (no ``units``:
    :func:`~.search.find_law` within ``budget`` seconds) or the ``units`` to try with their
    training settings (see :func:`fit_candidates`)."""

    name: ClassVar[str] = "fit"
    command: ClassVar[str] = "fit"

    def check(self) -> None:
        """Read the files, parse the units and check them against the unit contract's quick
        checks: every refusal comes before anything is written."""
        self.tables()
        check_number(self.budget, "budget", positive=True)
        for spec in parse_specs(self.units):
            spec.vet()

    def execute(self, run: Run) -> CandidatesResult | LawResult:
        if self.search:
            assert self.steps is not None and self.seeds is not None and self.lr is not None
            return search_law(self, run, steps=self.steps, seeds=self.seeds, lr=self.lr)
        train_table, test_table, task, names = self.tables()
        # a quarter of the rows is held back: the units train on the others, and the held-back
        # rows alone choose each spec's seed and the best spec (never the test file)
        fit_rows, held_rows = split_rows(len(train_table), seed=self.first_seed)
        x, y = task.train
        sets = {"interpolation": (x[held_rows], y[held_rows])}
        if "extrapolation" in task.evaluation:
            sets["extrapolation"] = task.evaluation["extrapolation"]
        task = DatasetTask((x[fit_rows], y[fit_rows]), sets, name=task.name, **task.info)
        rows = {
            "interpolation": (
                train_table.select(names).numpy()[held_rows],
                train_table.column(self.target).numpy()[held_rows],
            )
        }
        if test_table is not None:
            rows["extrapolation"] = (
                test_table.select(names).numpy(),
                test_table.column(self.target).numpy(),
            )
        tested = f", tested on {len(test_table)} rows in {self.test}" if test_table else ""
        run.log(
            f"fitting {self.target} from {', '.join(names)}: {len(train_table)} rows in "
            f"{self.data} ({len(fit_rows)} to train, {len(held_rows)} held back to choose)"
            f"{tested}"
        )
        if legend(names, formula_names(names)):  # e.g. 'where x0 = "2", x1 = "3"'
            run.log(f"the formulas name the inputs {legend(names, formula_names(names))[6:]}")
        candidates = fit_candidates(
            task,
            formula_names(names),  # names that read as one symbol each, else x0, x1, ...
            self.units,
            rows=rows,
            device=str(run.device),
            progress=run.progress,
            **{k: getattr(self, k) for k in _TRAINING},
        )
        result = CandidatesResult(
            self, task, names, candidates, device=str(run.device), out=run.out
        )
        result.best = best_candidate(candidates, task)
        _print_summary(run, result)
        return result


_TRAINING = ("steps", "seeds", "first_seed", "lr", "hidden", "batch_size", "tolerance")


@dataclass
class CandidatesResult(Result):
    """Every candidate of a fit and the best one (``None`` when no model fit the data)."""

    settings: FitSettings
    task: DatasetTask
    names: list[str]
    candidates: list[Candidate]
    best: Candidate | None = field(default=None)
    device: str = "cpu"

    @property
    def symbols(self) -> list[str]:
        """The formulas' symbols: the input names, or ``x0, x1, …`` (see :mod:`.names`)."""
        return formula_names(self.names)

    @property
    def legend(self) -> str:
        """``where x0 = "2", x1 = "3"`` when the symbols are not the names, else ``""``."""
        return legend(self.names, self.symbols)

    def equation(self, candidate: Candidate) -> str:
        """``target = formula``, with the legend where the symbols are not the names."""
        formula = candidate.formula if candidate.formula is not None else "-"
        text = f"{shown(self.settings.target)} = {formula}"
        return f"{text}    {self.legend}" if self.legend and candidate.formula is not None else text

    def write_report(self) -> dict[str, Path]:
        """``config.json`` (with the formulas), ``metrics.csv``, ``formulas.md``, a model file
        per candidate and ``fit.png``."""
        assert self.out is not None
        s, best = self.settings, self.best
        scaling = self.candidates[0].scaling
        runs.write_config(
            self.out,
            {
                **s.config(self.device),
                "inputs": self.names,
                "task": self.task.config(),
                "best": None if best is None else best.spec,
                "formulas": {c.spec: _text(c.formula) for c in self.candidates},
                "symbols": dict(zip(self.symbols, self.names, strict=True)),
                "scaling": {"inputs": list(scaling.inputs), "target": scaling.target},
            },
        )
        paths = {"csv": runs.write_metrics(self.out, {c.spec: c.run for c in self.candidates})}
        paths["markdown"] = _write_markdown(self, self.out / "formulas.md")
        for c in self.candidates:
            description = {"spec": c.spec, "in_features": self.task.in_features}
            description |= {"inputs": self.names, "formula": _text(c.formula)}
            if self.legend:
                description["symbols"] = dict(zip(self.symbols, self.names, strict=True))
            if c.scaling:  # the model's own units: y = target_scale * model(x / input_scale)
                description |= {
                    "input_scale": [10.0**k for k in c.scaling.inputs],
                    "target_scale": 10.0**c.scaling.target,
                }
            path = self.out / f"{_file_name(c.spec)}.safetensors"
            paths[c.spec] = runs.save_weights(path, c.model, description)
        paths["png"] = save_parity_plot(self.out / "fit.png", self.candidates, self.task, s.target)
        return paths


def _text(formula: Any) -> str | None:
    return None if formula is None else str(formula)


def candidates_table(candidates: Sequence[Candidate], has_test: bool) -> list[list[str]]:
    """Rows for the printed and Markdown tables: one per candidate."""
    rows = []
    for c in candidates:
        row = [
            c.spec,
            str(c.formula) if c.formula is not None else f"({c.note})",
            fmt(c.model_mse.get("interpolation")),
            fmt(c.formula_error.get("interpolation")),
        ]
        if has_test:
            row += [
                fmt(c.model_mse.get("extrapolation")),
                fmt(c.formula_error.get("extrapolation")),
            ]
        rows.append(row)
    return rows


def table_headers(has_test: bool) -> list[str]:
    headers = ["unit", "formula", "model MSE (held back)", "formula max rel. error (held back)"]
    if has_test:
        headers += ["model MSE (test)", "formula max rel. error (test)"]
    return headers


def _print_summary(run: Run, r: CandidatesResult) -> None:
    s, has_test = r.settings, r.settings.test is not None
    run.log("")
    run.log(table(table_headers(has_test), candidates_table(r.candidates, has_test)))
    diverged = sum(c.diverged for c in r.candidates)
    run.log(
        f"\n{diverged} of {s.seeds * len(r.candidates)} seeds diverged"
        + "".join(f"; {c.spec}: {c.diverged}" for c in r.candidates if c.diverged)
    )
    if r.candidates[0].scaling:
        run.log(f"\n{r.candidates[0].scaling.describe([shown(n) for n in r.names])}")
    closest = closest_candidate(r.candidates, r.task)
    if closest is None:
        run.log(
            "\nno model fit: every candidate's error on the data is infinite (or every seed "
            "diverged); try other units, more steps or a smaller learning rate"
        )
    elif r.best is None:
        share = unexplained(closest, r.task)
        how = (
            f"leaves {share:.0%} of the target's variance unexplained"
            if share < 1
            else "does no better than the target's mean"
        )
        run.log(
            f"\nno model fit: the closest, {closest.spec} ({r.equation(closest)}), {how} (a fit "
            f"leaves at most {CLOSE:.0%}); try other units, more steps or a smaller learning rate"
        )
    else:
        run.log(f"\nbest: {r.best.spec}    {r.equation(r.best)}")
        if r.best.extraction is not None:
            run.log(f"      {r.best.extraction.summary()}")
    run.log(f"\nrun directory: {run.out}")


def _write_markdown(r: CandidatesResult, path: Path) -> Path:
    s, best, has_test = r.settings, r.best, r.settings.test is not None
    lines = [
        f"# nalm fit: {s.target} from {', '.join(r.names)}",
        "",
        *([f"The formulas name the inputs {r.legend[6:]}.", ""] if r.legend else []),
        markdown_table(table_headers(has_test), candidates_table(r.candidates, has_test)),
        "",
        "No model fit the data."
        if best is None
        else f"Best: `{best.spec}`, {shown(s.target)} = `{best.formula}`.",
    ]
    for c in r.candidates:
        if c.extraction is not None:
            lines += ["", f"## {c.spec}", "", f"{c.extraction.summary()}", ""]
            lines += [f"- {w}" for w in [*c.extraction.snapped, *c.extraction.kept]]
    write_text(path, "\n".join(lines) + "\n")
    return path


def _file_name(spec: str) -> str:
    return spec.replace(">", "-").replace(":", "-")


def run_fit(
    data: str,
    target: str,
    *,
    test: str | None = None,
    units: Sequence[str] = (),
    exclude: Sequence[str] = (),
    out: str | None = None,
    device: str = "cpu",
    progress: bool = True,
    **settings: Any,
) -> tuple[Path, Candidate | Law | None]:
    """``nalm fit``: read the CSV file(s); search for the law (no ``units``) or fit every unit
    named; print and save what was found.

    Everything the user gave is checked (files, columns, units) before anything is trained or
    written. ``settings`` are :class:`FitSettings` fields (``steps``, ``seeds``, ``first_seed``,
    ``lr``, ``hidden``, ``batch_size``, ``tolerance``, ``budget``); ``FitSettings(...).run(out)``
    returns the whole :class:`CandidatesResult` (or :class:`~.law_report.LawResult`).

    Returns:
        The run directory and the best candidate (``None`` when no model fit the data), or for
        the search the :class:`~.search.Law` found.
    """
    if out is not None:
        runs.check_run_dir(out, "out")
    fit = FitSettings(data, target, test, tuple(units), tuple(exclude), **settings)
    result = fit.run(out, device=device, progress=progress)
    assert isinstance(result, (CandidatesResult, LawResult)) and result.out is not None
    if isinstance(result, LawResult):
        return result.out, result.law
    return result.out, result.best
