"""``nalm train`` as a workflow: a unit model and an MLP baseline trained side by side on a
formula, compared inside and far outside the training range, written to a run directory.

The command line only turns its flags into :class:`TrainSettings` and calls :func:`run_train`;
the same run is one call from Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch

from .. import limits
from ..errors import NalmError
from ..models import parse as parse_model
from ..reporting import describe_weights
from ..reporting.unit_tables import formula_line, results_table
from ..tasks import Expression, ExpressionTask
from ..train import FitResult, Policy, fit
from ..train.policies import resolve, with_overrides
from ..train.schedule import parse_ramp
from ..units import MLP
from . import runs
from .experiment import Experiment, Result, Run
from .plots import save_run_plot
from .train_settings import TrainFlags


@dataclass(frozen=True)
class TrainSettings(TrainFlags, Experiment):
    """What ``nalm train`` trains; each field is the flag of the same name and its default
    (:class:`~nalm.app.train_settings.TrainFlags` lists them).

    Example:
        >>> TrainSettings(unit="nau", target="x0 + x1").steps
        20000
    """

    command: ClassVar[str] = "train"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"train-{self.unit}"

    def check(self) -> None:
        prepare(self)  # every setting, before the run directory exists

    def execute(self, run: Run) -> TrainResult:
        setup = prepare(self)
        models, rates = {self.unit: setup.model}, {self.unit: self.lr}
        if setup.baseline is not None:
            models["mlp"], rates["mlp"] = setup.baseline, self.baseline_lr
        task, mlp = setup.task, setup.baseline
        run.log(
            f"training {self.unit} ({self.layers} layer(s)) and "
            f"{'an MLP ' + str(self.baseline_hidden) if mlp else 'no baseline'} on "
            f"{task.expression}: train {task.train_range}, test {task.test_range}, "
            f"{self.steps} steps, seed {self.seed}"
        )
        run.log(f"policy {setup.policy.name}: {setup.policy.describe()}")
        checkpoint = run.out / "checkpoint.safetensors"
        if checkpoint.exists():
            run.log(f"resuming from {checkpoint}")
        _set_resume_hint(run.out, checkpoint, self.checkpoint_every)
        results = fit(
            models,
            task,
            steps=self.steps,
            lr=rates,
            policy={self.unit: setup.policy, "mlp": None},
            batch_size=self.batch_size,
            eval_every=self.eval_every,
            seed=self.seed,
            device=run.device,
            progress=run.progress,
            description="train",
            checkpoint=checkpoint,
            checkpoint_every=self.checkpoint_every,
            recover=self.recover,
        )
        _log_results(results, setup, run.log)
        run.log(f"\nrun directory: {run.out}")
        return TrainResult(self, results, setup, str(run.device), run.progress, out=run.out)


class TrainSetup(NamedTuple):
    """What ``nalm train`` builds from its settings before it trains anything."""

    task: ExpressionTask
    model: torch.nn.Module
    baseline: MLP | None
    policy: Policy
    options: dict[str, Any]


@dataclass
class TrainResult(Result):
    """A finished ``nalm train``: where it was written and what each model reached.

    Attributes:
        out: the run directory (config, metrics, weights, plot, checkpoint); also ``run_dir``.
        results: model name (the unit spec, and ``"mlp"``) → its :class:`~nalm.train.FitResult`.
        setup: the task, models and policy that were trained.
    """

    settings: TrainSettings
    results: dict[str, FitResult]
    setup: TrainSetup
    device: str = "cpu"
    progress: bool = True

    @property
    def run_dir(self) -> Path:
        assert self.out is not None
        return self.out

    def write_report(self) -> dict[str, Path]:
        """``config.json`` (the settings, then what was built), ``metrics.csv``, the models'
        weights (``model.safetensors``, ``baseline.safetensors``) and ``prediction.png``."""
        s, setup, device = self.settings, self.setup, self.device
        config = _config(s, setup, out=self.run_dir, device=device, progress=self.progress)
        return _write_run(self.run_dir, config, self.results, s, setup, device)


def train_policy(settings: TrainSettings, model: torch.nn.Module) -> Policy:
    """The unit model's policy: ``settings.policy`` (or the recommended one) with the ramp and
    clipping overrides; its name gains ``+flags`` when they change it.

    Example:
        >>> from nalm.units import NAU
        >>> train_policy(TrainSettings(unit="nau", ramp="10,20"), NAU(2, 1)).name
        'madsen-nau+flags'
    """
    policy = resolve(settings.policy, model)
    ramp_text = settings.ramp
    lambda_hat, *ramp = parse_ramp(ramp_text) if ramp_text is not None else (None, None, None)
    changed = with_overrides(  # the overrides on the policy just resolved, not a second resolve
        policy,
        lambda_hat=lambda_hat,
        ramp=tuple(ramp) if ramp[0] is not None else None,  # type: ignore[arg-type]
        clip_value=settings.clip_value,
        clip_norm=settings.clip_norm,
        model=f"unit {settings.unit!r}",
    )
    return changed if changed is policy else changed.replace(name=f"{policy.name}+flags")


def check_settings(settings: TrainSettings) -> None:
    """Each number against :mod:`nalm.limits`, by its field's name, and the baseline's kind.

    Example:
        >>> check_settings(TrainSettings(steps=0))
        Traceback (most recent call last):
        nalm.errors.NalmError: steps must be at least 1; got 0
    """
    for name in ("steps", "eval_every", "checkpoint_every"):
        limits.check_steps(getattr(settings, name), name)
    for name in ("hidden", "batch_size", "eval_size", *(("inputs",) if settings.inputs else ())):
        limits.check_size(getattr(settings, name), name)
    limits.check_size(settings.recover, "recover", minimum=0, limit=1000)
    limits.check_seed(settings.seed, "seed")
    for name in ("lr", "baseline_lr", "clip_value", "clip_norm"):
        if getattr(settings, name) is not None:
            limits.check_number(getattr(settings, name), name, positive=True)
    if settings.baseline not in ("mlp", "none"):
        raise NalmError(f"baseline must be 'mlp' or 'none'; got {settings.baseline!r}")


def prepare(settings: TrainSettings) -> TrainSetup:
    """The task, the unit model, the baseline and the policy (every setting is checked here;
    nothing is trained or written).

    Example:
        >>> setup = prepare(TrainSettings(unit="nau>nmu", target="x0 * x1 + x2", eval_size=8))
        >>> setup.task.in_features, type(setup.baseline).__name__, setup.policy.name
        (3, 'MLP', 'madsen-nmu')
    """
    check_settings(settings)
    n_inputs = settings.inputs or Expression(settings.target).n_inputs
    limits.check_elements({"--eval-size": settings.eval_size, "--inputs": n_inputs})
    limits.check_elements({"--batch-size": settings.batch_size, "--inputs": n_inputs})
    task = ExpressionTask(
        settings.target,
        settings.train_range,
        settings.test_range,
        n_inputs=settings.inputs,
        eval_size=settings.eval_size,
        eval_seed=settings.seed,
    )
    options = dict(settings.options)
    limits.check_size(settings.layers, "layers", limit=limits.MAX_LAYERS)
    layers = settings.layers
    spec = parse_model(settings.unit, layers=None if layers == 1 else layers)
    if layers != 1 and len(spec.layers) != layers:
        raise NalmError(f"--layers repeats a single unit; {settings.unit!r} names its own layers")
    spec.vet(options)
    torch.manual_seed(settings.seed)
    preset = "seed" if settings.seed_init else None
    model = spec.build(task.in_features, 1, hidden=settings.hidden, options=options, preset=preset)
    policy = train_policy(settings, model)
    torch.manual_seed(settings.seed)
    baseline = None
    if settings.baseline == "mlp":
        baseline = MLP(
            task.in_features,
            1,
            hidden=settings.baseline_hidden,
            activation=settings.baseline_activation,
        )
    return TrainSetup(task, model, baseline, policy, options)


def run_train(
    settings: TrainSettings,
    out: str | Path | None = None,
    *,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train the unit model and its baseline, print how they compare and the formula the unit
    model learned, and write the run directory (``config.json``, ``metrics.csv``, weights as
    safetensors, ``prediction.png``). A checkpoint is written every ``checkpoint_every`` steps;
    the same settings with the same ``out`` resume from it.

    Example:
        >>> import tempfile
        >>> settings = TrainSettings(unit="nau", target="x0 + x1", steps=20, eval_every=10,
        ...                          eval_size=8, baseline="none")
        >>> result = run_train(settings, tempfile.mkdtemp(), progress=False, log=lambda s: None)
        >>> sorted(p.name for p in result.run_dir.iterdir() if p.suffix == ".json")
        ['config.json']
    """
    result = settings.run(out, device=device, progress=progress, log=log)
    assert isinstance(result, TrainResult)
    return result


def _set_resume_hint(run_dir: Path, checkpoint: Path, every: int) -> None:
    """What the Ctrl-C message says about resuming."""
    runs.set_resume_hint(
        lambda: (
            f"the last checkpoint (written every {every} steps) is in {checkpoint}; run the "
            f"same command with --out {run_dir} to resume"
            if checkpoint.exists()
            else f"the run directory {run_dir} is gone, so nothing was kept"
            if not run_dir.is_dir()
            else f"no checkpoint had been written yet (the first comes at step {every}), so "
            "nothing was saved"
        )
    )


def _log_results(
    results: dict[str, FitResult], setup: TrainSetup, log: Callable[[str], None]
) -> None:
    """The comparison table, the learned weights and formula, recoveries and divergences."""
    log("")
    log(results_table(results))
    log("\nlearned weights (rounded):")
    log(describe_weights(setup.model))
    log(f"\nformula: {formula_line(setup.model, setup.task.in_features)}")
    diverged = [name for name, r in results.items() if r.diverged]
    recovered = {name: r.recovered_at for name, r in results.items() if r.recovered_at}
    for name, steps in recovered.items():
        log(f"{name}: recovered from a non-finite loss at step(s) {', '.join(map(str, steps))}")
    log(
        f"{len(diverged)} of {len(results)} model(s) diverged"
        + (f": {', '.join(diverged)}" if diverged else "")
    )


def _config(
    settings: TrainSettings, setup: TrainSetup, *, out: Path, device: str, progress: bool
) -> dict[str, Any]:
    """``config.json``: the settings under their flags' names, then what was built."""
    values = {
        ("option" if f.name == "options" else f.name): getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.name != "ramp"
    }
    config = {"command": "train", "preset": None, **values}
    config.update(device=device, out=str(out), no_progress=not progress)
    config["ramp"] = ramp_config(settings.ramp)
    config["policy"] = {"name": setup.policy.name, "description": setup.policy.describe()}
    config["task"] = setup.task.config()
    config["model"] = repr(setup.model)
    config["baseline_model"] = repr(setup.baseline) if setup.baseline else None
    return config


def _write_run(
    run_dir: Path,
    config: dict[str, Any],
    results: dict[str, FitResult],
    settings: TrainSettings,
    setup: TrainSetup,
    device: str,
) -> dict[str, Path]:
    """The config, the metrics, both models' weights (with what rebuilds them) and the plot."""
    paths = {"config": runs.write_config(run_dir, config)}
    paths["csv"] = runs.write_metrics(run_dir, results)
    description = {
        "unit": settings.unit,
        "in_features": setup.task.in_features,
        "out_features": 1,
        "layers": settings.layers,
        "hidden": settings.hidden,
        "options": setup.options,
        "preset": "seed" if settings.seed_init else None,
    }
    paths["model"] = runs.save_weights(run_dir / "model.safetensors", setup.model, description)
    models: dict[str, torch.nn.Module] = {settings.unit: setup.model}
    if setup.baseline is not None:
        models["mlp"] = setup.baseline
        paths["baseline"] = runs.save_weights(
            run_dir / "baseline.safetensors",
            setup.baseline,
            {
                "unit": "mlp",
                "hidden": list(settings.baseline_hidden),
                "activation": settings.baseline_activation,
            },
        )
    paths["png"] = run_dir / "prediction.png"
    save_run_plot(paths["png"], setup.task, models, results, device)
    return paths


def ramp_config(text: str | None) -> dict[str, Any] | None:
    """``ramp`` as ``config.json`` records it.

    Example:
        >>> ramp_config("0.1,10,20")
        {'lambda_hat': 0.1, 'start': 10, 'end': 20}
    """
    if text is None:
        return None
    return dict(zip(("lambda_hat", "start", "end"), parse_ramp(text), strict=True))
