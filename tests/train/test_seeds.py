"""The engine's per-seed parts (:mod:`nalm.train.seeds`): a checkpoint written before they
shared one protocol (nalm 16cec25: three seeds of NAU→NMU under ``nmu-fast``, seed 1 stopped
and compacted away, interrupted after step 150) resumes where an uninterrupted run of today's
engine goes (to float rounding: the thread count of the process that wrote it may differ)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import safe_open

from nalm import NAU, NMU, fit_seeds
from nalm.tasks import ArithmeticTask
from nalm.train import POLICIES
from nalm.train.seeds import SeedBook

OLD = Path(__file__).parent / "data" / "checkpoint-before-protocol.safetensors"


def _train(checkpoint: Path) -> None:
    """The run that wrote :data:`OLD` (to step 150 of 300), to its end."""
    task = ArithmeticTask("mul", input_size=4, subset=0.5, overlap=0, eval_size=50)
    fit_seeds(
        lambda: torch.nn.Sequential(NAU(4, 2), NMU(2, 1)),
        [task] * 3,
        [0, 1, 2],
        steps=300,
        eval_every=50,
        lr=1e-2,
        policy=POLICIES["nmu-fast"],
        progress=False,
        checkpoint=checkpoint,
        checkpoint_every=50,
        early_stop=lambda i, history: i == 1 and history[-1]["step"] >= 100,
        recover=2,
        shared_inputs=True,
    )


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()["meta"])  # noqa: SIM118


def test_a_checkpoint_from_before_the_protocol_resumes_where_it_stopped(tmp_path):
    resumed, fresh = tmp_path / "resumed.safetensors", tmp_path / "fresh.safetensors"
    shutil.copy(OLD, resumed)
    assert _read(resumed)[1]["step"] == 150
    _train(resumed)
    _train(fresh)
    (a, meta_a), (b, meta_b) = _read(resumed), _read(fresh)
    assert sorted(a) == sorted(b) and "0/dropped.1.0.W" in a  # seed 1's final weights kept
    for key in a:  # to float rounding: the file was written by another process, whose thread
        if key != "rng.torch":  # count may differ (the global generator: what it drew before)
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-7, equal_nan=True)
    first, second = meta_a["engines"][0], meta_b["engines"][0]
    assert first.pop("seconds") > 0 and second.pop("seconds") > 0
    assert first == second and first["step"] == 300 and first["rows"] == [0, 2]


def test_the_book_selects_every_per_seed_value_together():
    book = SeedBook([5, 6, 7, 8], torch.device("cpu"), ["step", "train_loss"])
    book.loss_sum += torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    book.loss_count += 1
    book.recoveries = [0, 1, 2, 3]
    book.stop(1)
    book.select([3, 0])
    assert [t.seed for t in book.tracks] == [8, 5] and book.rows == [3, 0]
    assert book.recoveries == [3, 0] and book.n_active == 2
    assert book.train_loss().tolist() == [4.0, 1.0]
    assert [t.seed for t in book.all_tracks] == [5, 6, 7, 8]  # every seed's record stays
