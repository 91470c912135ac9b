"""A small stand-alone probe of training levers for ``nau>nmu`` on Madsen's × task, written
outside the engine so that a lever the engine does not have yet can be tried in minutes.

The model, task, regulariser, clamping, shared input batches and success rule are the
benchmark's (the same ``ArithmeticTask`` slices and ε-thresholds); what it adds is the levers:
Adam's betas, a preconditioner of the NAU's gradient by the inputs' second moment, the NAU's
initial range, and a learning-rate schedule. Figures from it are labelled as the probe's in
``benchmarks/results/recipes/``; the recipes themselves are run by ``nalm bench run``.

    .venv/bin/python benchmarks/recipes_probe.py --seeds 16 --steps 100000 --lr 1e-2 \
        --batch 1024 --ramp 10,20000,100000 [--precondition 1e-3] [--betas 0.9,0.999]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from nalm.metrics import success_threshold
from nalm.tasks.arithmetic import ArithmeticTask
from nalm.units.nau import nau_init_range


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--ramp", default="10,1000000,2000000", help="LAMBDA,START,END")
    p.add_argument("--betas", default="0.9,0.999")
    p.add_argument("--precondition", type=float, help="damping of the NAU preconditioner")
    p.add_argument("--precondition-from", type=int, default=0, help="first preconditioned step")
    p.add_argument(
        "--decay",
        default=None,
        help="FROM,FACTOR: lr falls geometrically by FACTOR from step FROM to the last step",
    )
    p.add_argument("--init-scale", type=float, default=1.0, help="× the NAU's initial range")
    p.add_argument("--input-size", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--eval-size", type=int, default=10_000)
    args = p.parse_args()
    torch.set_num_threads(1)
    lam, start, end = (float(v) for v in args.ramp.split(","))
    b1, b2 = (float(v) for v in args.betas.split(","))
    S, n = args.seeds, args.input_size
    size = {"input_size": n, "subset": 0.25, "overlap": 0.5, "eval_size": args.eval_size}
    tasks = [ArithmeticTask("mul", seed=s, **size) for s in range(S)]
    sel = torch.stack([t.selection.float() for t in tasks])  # (S, 2, n)
    thr_i = torch.tensor([success_threshold(t, "interpolation") for t in tasks])
    thr_e = torch.tensor([success_threshold(t, "extrapolation") for t in tasks])
    gen = torch.Generator().manual_seed(0)
    r = nau_init_range(n, 2) * args.init_scale
    W0 = (torch.rand(S, 2, n, generator=gen) * 2 - 1) * min(r, 1.0)
    W1 = torch.rand(S, 1, 2, generator=gen) * 0.5 + 0.25
    params = [W0.requires_grad_(), W1.requires_grad_()]
    opt = torch.optim.Adam(params, lr=args.lr, betas=(b1, b2))
    moment = None
    solved_at = torch.full((S,), -1)
    active = torch.ones(S, dtype=torch.bool)
    ev = {k: tasks[0].evaluation[k][0] for k in ("interpolation", "extrapolation")}

    def forward(x: torch.Tensor) -> torch.Tensor:  # x (B, n) shared → (S, B)
        h = torch.einsum("bn,son->sbo", x, W0.clamp(-1, 1))
        w = W1.clamp(0, 1)
        return (h * w + 1 - w).prod(-1)

    def target(x: torch.Tensor) -> torch.Tensor:
        ab = torch.einsum("bn,skn->sbk", x, sel)
        return ab[..., 0] * ab[..., 1]

    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        x = 1 + torch.rand(args.batch, n, generator=gen)
        loss_each = ((forward(x) - target(x)) ** 2).mean(1)
        lam_t = lam * min(max((step - start) / (end - start), 0.0), 1.0)
        reg = sum(torch.minimum(W.abs(), (1 - W.abs()).abs()).flatten(1).mean(1) for W in params)
        total = (loss_each + lam_t * reg)[active].sum()
        opt.zero_grad()
        total.backward()
        if args.precondition is not None and step >= args.precondition_from:
            m = x.T @ x / len(x)
            moment = m if moment is None else 0.99 * moment + 0.01 * m
            if step % 100 == 1 or step == args.precondition_from:
                scale = moment.diagonal().mean()
                inverse = torch.linalg.inv(moment + args.precondition * scale * torch.eye(n))
                inverse = inverse * scale
            W0.grad = W0.grad @ inverse
        if args.decay is not None:
            begin, factor = (float(v) for v in args.decay.split(","))
            progress = min(max((step - begin) / (args.steps - begin), 0.0), 1.0)
            for group in opt.param_groups:
                group["lr"] = args.lr * factor**progress
        opt.step()
        with torch.no_grad():
            W0.clamp_(-1, 1)
            W1.clamp_(0, 1)
        if step % args.eval_every == 0:
            with torch.no_grad():
                mi = ((forward(ev["interpolation"]) - target(ev["interpolation"])) ** 2).mean(1)
                me = ((forward(ev["extrapolation"]) - target(ev["extrapolation"])) ** 2).mean(1)
            ok = (mi < thr_i) & (me < thr_e) & active
            solved_at[ok] = step
            active &= ~ok
            if step % (10 * args.eval_every) == 0 or not active.any():
                done = int((solved_at > 0).sum())
                print(f"step {step}: solved {done}/{S}, median interp {mi.median():.3g}, "
                      f"extrap {me.median():.3g}, {time.perf_counter() - started:.0f} s",
                      flush=True)  # fmt: skip
            if not active.any():
                break
    solved = sorted(int(s) for s in solved_at if s > 0)
    median = solved[len(solved) // 2] if solved else math.nan
    print(f"RESULT {vars(args)}: {len(solved)}/{S} solved, median solved-at {median}, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
