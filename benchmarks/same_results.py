"""Does nalm now compute what it computed at another revision, and how fast, side by side?

Two checks, each run in fresh processes for this checkout's ``src/`` and for REV's:

- **histories**: the README's NAC example (``fit``), ``nau>nmu`` on the ``madsen`` × task
  (``fit``), a side-by-side pair (``fit`` of a mapping), 4 seeds sharing inputs (``fit_seeds``)
  and every shipped policy on a model of its own (:data:`POLICY_MODELS`, 3 seeds each); each
  history is compared for exact (bitwise) equality.
- **identity rows**: ``nalm reproduce identity``'s ReLU and NALU rows (100 seeds, batch 128,
  Adam lr 0.01) for ``--steps`` steps, now and REV alternating, ``--repeats`` times; the seconds
  of each run are printed.

Run: ``.venv/bin/python benchmarks/same_results.py REV [--steps 1000] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from revision import ROOT, export_src, run_json


def histories() -> dict[str, Any]:
    import torch
    from torch import nn

    from nalm import ExpressionTask, fit
    from nalm.tasks import ArithmeticTask
    from nalm.train import fit_seeds
    from nalm.units import NAC, NALU, build

    out: dict[str, Any] = {}
    torch.manual_seed(0)
    task = ExpressionTask("x0 + x1", "1,2", "2,6")
    out["README NAC"] = fit(NAC(2, 1), task, steps=3000, lr=0.5, progress=False).history
    torch.manual_seed(1)
    stack = nn.Sequential(build("nau", 100, 2), build("nmu", 2, 1))
    mul = ArithmeticTask("mul", seed=0)
    out["nau>nmu"] = fit(stack, mul, steps=2000, eval_every=500, progress=False).history
    torch.manual_seed(0)
    pair = {"a": NALU(2, 1), "b": build("mlp", 2, 1)}
    product = ExpressionTask("x0 * x1", "1,2", "2,6")
    done = fit(pair, product, steps=1500, lr=0.01, eval_every=500, progress=False)
    out["a pair"] = {name: result.history for name, result in done.items()}
    tasks = [ArithmeticTask("mul", seed=s) for s in range(4)]
    cohort = fit_seeds(
        lambda: nn.Sequential(build("nau", 100, 2), build("nmu", 2, 1)),
        tasks,
        [0, 1, 2, 3],
        steps=1500,
        shared_inputs=True,
        eval_every=500,
        progress=False,
    )
    out["4 shared seeds"] = [run.history for run in cohort.runs]
    out |= policies()
    return out


# every shipped policy on a model it is meant for (3 seeds sharing inputs, 400 steps; the
# preconditioners start at step 100 here, the deadlines at 200, so that each lever acts)
POLICY_MODELS = {
    "none": "nau>nmu",
    "madsen-nau": "nau>nau",
    "madsen-nmu": "nau>nmu",
    "inalu": "inalu",
    "npu": "nau>npu",
    "nmru": "nau>nmru",
    "nmu-fast": "nau>nmu",
    "dmu": "dmu",
    "snap-div": "select_nau>int_snap_npu",
    "snap-div-retry": "select_nau>int_snap_npu",
    "snap-root": "select_nau>snap_npu",
    "snap-root-retry": "select_nau>snap_npu",
    "all-six": "all-six",
}


def policies() -> dict[str, Any]:
    import dataclasses

    from nalm.models import parse
    from nalm.tasks import ArithmeticTask
    from nalm.train import Deadline, fit_seeds, get_policy

    out: dict[str, Any] = {}
    tasks = [ArithmeticTask("div", input_size=8, seed=s, eval_size=100) for s in range(3)]
    for name, spec in POLICY_MODELS.items():
        policy = get_policy(name)
        if policy.precondition is not None:
            earlier = dataclasses.replace(policy.precondition, start=100)
            policy = policy.replace(precondition=earlier)
        if isinstance(policy.reinit, Deadline):
            policy = policy.replace(reinit=Deadline(200, 0.0, chunk=50))
        result = fit_seeds(
            lambda spec=spec: parse(spec, layers=2).build(8, 1, 2),
            tasks,
            [0, 1, 2],
            steps=400,
            lr=1e-2,
            batch_size=32,
            eval_every=100,
            policy=policy.replace(steps=None),
            shared_inputs=True,
            progress=False,
        )
        out[f"policy {name}"] = [run.history for run in result.runs]
    return out


def identity_row(label: str, steps: int) -> float:
    try:
        from nalm.app.reproduce.identity import IdentitySettings, identity_models
    except ImportError:  # a revision from before the workflows moved into nalm.app
        from nalm.reproduce.identity import IdentitySettings, identity_models
    from nalm.tasks import ExpressionTask
    from nalm.train import fit_seeds

    settings = IdentitySettings()
    task = ExpressionTask("x0", settings.train_range, settings.test_range, eval_size=1000)
    build = identity_models(settings)[label]
    started = time.perf_counter()
    fit_seeds(build, [task] * 100, list(range(100)), steps=steps, lr=settings.lr,
              batch_size=128, eval_every=steps, progress=False)  # fmt: skip
    return time.perf_counter() - started


def _rows(history: Any) -> list[dict[str, Any]]:
    """Every history row of one entry (a history, a list or a dict of them)."""
    if isinstance(history, dict):
        return [row for h in history.values() for row in h]
    if history and isinstance(history[0], list):
        return [row for h in history for row in h]
    return history


def _common(now: Any, then: Any) -> Any:
    """``now`` with each row cut to the columns ``then``'s row has, as floats (a step may be
    stored as an int in one and a float in the other)."""
    if isinstance(now, dict):
        return {k: _common(now[k], then[k]) for k in now}
    if now and isinstance(now[0], list):
        return [_common(a, b) for a, b in zip(now, then, strict=True)]
    return [{k: float(a[k]) for k in b} for a, b in zip(now, then, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", help="the git revision to compare with")
    parser.add_argument("--steps", type=int, default=1000, help="steps per identity row")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the identity rows")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "histories":
        print(json.dumps(histories()))
        return
    if args.part:
        print(json.dumps(identity_row(args.part, args.steps)))
        return
    if not args.revision:
        parser.error("give the revision to compare with")
    script = Path(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"now": ROOT / "src", args.revision: export_src(args.revision, Path(tmp))}
        runs = {
            name: run_json(src, script, ["--part", "histories"]) for name, src in sources.items()
        }
        now, then = runs.values()
        for key in now:
            added = sorted(set(_rows(now[key])[0]) - set(_rows(then[key])[0]))
            same = json.dumps(_common(now[key], then[key])) == json.dumps(
                _common(then[key], then[key])
            )
            extra = f" (now also records {', '.join(added)})" if added else ""
            print(f"history {key}: {'bit-identical' if same else 'DIFFERS'}{extra}")
        for label in ("ReLU", "NALU"):
            for _ in range(args.repeats):
                for name, src in sources.items():  # alternating: a drift hits both
                    seconds = run_json(src, script, ["--part", label, "--steps", str(args.steps)])
                    print(f"identity {label} row, {args.steps} steps × 100 seeds, {name}: "
                          f"{seconds:.2f} s")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
