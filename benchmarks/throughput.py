"""Seed-iterations per second: the training engine against a one-seed training loop.

The model is ``nau>nmu`` (NAU(100, 2) → NMU(2, 1)) on the ``madsen`` × task (input 100, subset
0.25, overlap 0.5, U[1, 2], batch 128, Adam lr 1e-3), as in ``nalm bench run madsen``.

- ``plain loop``: the shortest honest one-seed loop: draw a batch, MSE, backward, Adam step,
  the units' clamping. No evaluation, no bookkeeping.
- ``nalm.train.fit``: the one-seed door onto the engine (S = 1, ``torch.optim.Adam``).
- ``fit_seeds S=...``: the many-seed door onto the engine with S seeds, each on its own task
  (own slices), sharing one input batch per step (as the ``madsen`` suite does), evaluation
  every 1000 steps on the 10,000-row sets included.

With ``--against REV`` the same rows are measured, in the same run, with nalm as it was at git
revision REV (its ``src/`` exported to a temporary directory and run in a subprocess), and the
table gives both and their ratio; each measurement then runs in a fresh process, now and REV
alternating row by row. ``--repeats N`` measures N rounds and keeps each row's best, which damps
a busy machine's drift.

``--compiled`` adds, for ``fit`` and each S, the steady rate of the eager step (``… steady``) and
of the compiled one (``… compiled``: ``compile=True``, :mod:`nalm.train.compiled`), both timed
from the evaluation at step 1000 to the last (:func:`steady`), so that compiling drops out.

``--profile S`` adds where the time of one step goes at S seeds: torch's profiler on 300 steps
of one run, from its 100th (so the set-up and compiling fall outside), the operations
with the most self time in milliseconds per step (and with ``--against``, the same for REV; with
``--compiled``, the same for the compiled step).

Run: ``.venv/bin/python benchmarks/throughput.py [--steps 2000] [--sizes 1,10,100,1000]
[--against REV] [--repeats N] [--profile S] [--compiled]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
from revision import ROOT, export_src, run_json
from torch import nn

from nalm.tasks import ArithmeticTask
from nalm.train import fit, fit_seeds
from nalm.units import NAU, NMU, after_step


def make_model() -> nn.Module:
    return nn.Sequential(NAU(100, 2), NMU(2, 1))


def plain_loop(steps: int) -> float:
    """Seed-iterations per second of a minimal one-seed loop."""
    torch.manual_seed(0)
    model, task = make_model(), ArithmeticTask("mul", seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(steps):
        x, y = task.sample(128, generator)
        loss = torch.mean((model(x) - y) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        after_step(model)
    return steps / (time.perf_counter() - started)


def library_fit(steps: int) -> float:
    torch.manual_seed(0)
    task = ArithmeticTask("mul", seed=0)
    started = time.perf_counter()
    fit(make_model(), task, steps=steps, eval_every=1000, progress=False, policy=None)
    return steps / (time.perf_counter() - started)


def ensemble(seeds: int, steps: int, compile: bool = False) -> float:
    tasks = [ArithmeticTask("mul", seed=s) for s in range(seeds)]
    started = time.perf_counter()
    fit_seeds(
        make_model,
        tasks,
        list(range(seeds)),
        steps=steps,
        eval_every=1000,
        shared_inputs=True,
        progress=False,
        compile=compile,
    )
    return seeds * steps / (time.perf_counter() - started)


def steady(seeds: int, steps: int, compile: bool) -> float:
    """Seed-iterations per second between the evaluation at step 1000 and the last, at step
    ``1000 + steps`` (``seeds=0``: ``fit``, one seed): the compiled step's graphs are built by
    then, and the evaluations inside the interval (one per 1000 steps) cost what they cost the
    whole-call rows. The engine's ``evaluate`` is wrapped to note the time of each."""
    from nalm.train.engine import Engine

    stamps: dict[int, float] = {}
    evaluate = Engine.evaluate

    def noted(self: Engine, t: int) -> None:
        evaluate(self, t)
        stamps[t] = time.perf_counter()

    Engine.evaluate = noted  # type: ignore[method-assign]
    try:
        if seeds == 0:
            torch.manual_seed(0)
            task = ArithmeticTask("mul", seed=0)
            kwargs = {"progress": False, "policy": None, "compile": compile}
            fit(make_model(), task, steps=1000 + steps, **kwargs)
        else:
            ensemble(seeds, 1000 + steps, compile=compile)
    finally:
        Engine.evaluate = evaluate  # type: ignore[method-assign]
    return max(seeds, 1) * steps / (stamps[1000 + steps] - stamps[1000])


def profile(seeds: int, steps: int = 300, top: int = 10, compile: bool = False) -> list[list]:
    """``[operation, ms per step, calls per step]`` of the ``top`` operations by self time in a
    step at S = ``seeds``: torch's profiler over ``steps`` steps of one run, from its 100th
    step (the set-up, and the compiled step's compiling, before the window). ``compile``: the
    compiled step (its 2,000-step floor lifted for this short run; the graph's kernels then
    show as one ``CompiledFxGraph`` call, the matrix products as ``aten::mm``)."""
    from torch.profiler import ProfilerActivity, schedule
    from torch.profiler import profile as torch_profile

    from nalm.train.engine import Engine

    if compile:
        from nalm.train import compiled

        compiled.MIN_STEPS = 0
    ensemble(seeds, 50, compile)  # warm-up (and the compiled graphs into torch's cache)
    wait, stamps, step = 100, [], Engine.train_step
    window = schedule(wait=wait, warmup=0, active=steps, repeat=1)
    with torch_profile(activities=[ProfilerActivity.CPU], schedule=window) as prof:

        def stepped(self: Engine, t: int, batch=None) -> None:
            step(self, t, batch)
            if batch is None:  # not the eager step a compiled one falls back to
                prof.step()
                stamps.append(time.perf_counter())

        Engine.train_step = stepped  # type: ignore[method-assign]
        try:
            ensemble(seeds, wait + steps + 1, compile)
        finally:
            Engine.train_step = step  # type: ignore[method-assign]
    totals = {e.key: (e.self_cpu_time_total, e.count) for e in prof.key_averages()}
    rows = [[key, t / 1e3 / steps, c / steps] for key, (t, c) in totals.items()]
    rows.sort(key=lambda row: row[1], reverse=True)
    wall = (stamps[wait + steps - 1] - stamps[wait - 1]) * 1e3 / steps
    return [["(wall time per step, profiled)", wall, 1.0], *rows[:top]]


ROWS = {
    "plain loop (1 seed)": plain_loop,
    "nalm.train.fit (1 seed)": library_fit,
}


def measure_row(name: str, steps: int) -> float:
    """One row: seed-iterations per second (NaN where this nalm refuses the size), after a
    warm-up of 200 steps (a fresh process's first calls are slower)."""
    if name.startswith("profile"):
        size = int(name.split()[1].split("=")[1])
        return profile(size, compile=name.endswith("compiled"))  # type: ignore[return-value]
    if name.endswith((" compiled", " steady")):
        size = 0 if name.startswith("nalm.train.fit") else int(name.split()[1].split("=")[1])
        return steady(size, steps, compile=name.endswith(" compiled"))
    if name in ROWS:
        ROWS[name](200)
        return ROWS[name](steps)
    try:
        ensemble(int(name.rsplit("=", 1)[1]), 200)
        return ensemble(int(name.rsplit("=", 1)[1]), steps)
    except ValueError as error:  # a revision that refuses this size
        print(f"{name}: {error}", file=sys.stderr)
        return math.nan


def measure_in(src: Path, names: list[str], steps: int) -> dict[str, float]:
    """``names`` measured by a fresh process importing nalm from ``src``."""
    return run_json(src, Path(__file__), ["--json", "--steps", str(steps), "--rows", *names])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps per measurement")
    parser.add_argument("--sizes", default="1,10,100,1000", help="cohort sizes S")
    parser.add_argument("--against", metavar="REV", help="also measure nalm at git revision REV")
    parser.add_argument("--repeats", type=int, default=1, help="rounds; each row's best is kept")
    parser.add_argument("--profile", type=int, metavar="S", help="profile a step at S seeds")
    parser.add_argument(
        "--compiled", action="store_true", help="also the compiled step at each S (> 1)"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    names = args.rows or [*ROWS, *(f"fit_seeds S={s}" for s in sizes)]
    if args.compiled and not args.rows:
        for row in ["nalm.train.fit (1 seed)", *(f"fit_seeds S={s}" for s in sizes)]:
            names += [f"{row} steady", f"{row} compiled"]
    if args.json:
        print(json.dumps({name: measure_row(name, args.steps) for name in names}))
        return
    now: dict[str, float] = dict.fromkeys(names, -math.inf)
    then: dict[str, float] = dict.fromkeys(names, -math.inf)
    with tempfile.TemporaryDirectory() as tmp:
        old_src = export_src(args.against, Path(tmp)) if args.against else None
        if args.profile:
            _profiles(args.profile, old_src, args.against, args.compiled)
        for _ in range(args.repeats):
            for name in names:  # now and then alternate row by row: a drift hits both
                if not args.against:
                    now[name] = max(now[name], measure_row(name, args.steps))
                    continue
                now[name] = max(now[name], measure_in(ROOT / "src", [name], args.steps)[name])
                value = measure_in(old_src, [name], args.steps)[name]  # type: ignore[arg-type]
                then[name] = value if math.isnan(value) else max(then[name], value)
    _print(now, then if args.against else None, args)


def _profiles(seeds: int, old_src: Path | None, revision: str | None, compiled: bool) -> None:
    """Print the step profile at S = ``seeds``, now and (with ``--against``) at ``revision``,
    and with ``compiled`` the compiled step's (now)."""
    name = f"profile S={seeds}"
    runs = [("now", ROOT / "src", name), (revision, old_src, name)]
    if compiled:
        runs.append(("now, compiled step", ROOT / "src", f"{name} compiled"))
    for label, src, row in runs:
        if src is None:
            continue
        rows = measure_in(src, [row], 0)[row]
        print(f"\nWhere a step's time goes, S = {seeds} ({label}; torch profiler)")
        print("| operation | ms per step | calls per step |\n| --- | ---: | ---: |")
        for op, ms, calls in rows:
            print(f"| `{op}` | {ms:.3f} | {calls:g} |")
    print()


def _print(now: dict[str, float], then: dict[str, float] | None, args: argparse.Namespace) -> None:
    plain = now["plain loop (1 seed)"]
    rounds = f", best of {args.repeats} rounds" if args.repeats > 1 else ""
    print(f"nau>nmu on madsen ×, {args.steps} steps, {torch.get_num_threads()} threads{rounds}")
    if then is None:
        print("| trainer | seed-iterations/s | × plain loop |\n| --- | ---: | ---: |")
        for name, rate in now.items():
            print(f"| {name} | {rate:,.0f} | {rate / plain:.1f} |")
        return
    print(f"| trainer | seed-iterations/s | × plain loop | at {args.against} | now / then |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, rate in now.items():
        ratio = "—" if math.isnan(then[name]) else f"{rate / then[name]:.2f}"
        shown = "refused" if math.isnan(then[name]) else f"{then[name]:,.0f}"
        print(f"| {name} | {rate:,.0f} | {rate / plain:.1f} | {shown} | {ratio} |")


if __name__ == "__main__":
    main()
