import csv

import pytest
import torch
from torch import nn

from nalm.app.reproduce.sequences import SequenceModel, _last, _scores, build_model, settings_for
from nalm.cli import main
from nalm.errors import NalmError
from nalm.tasks.digits import load_sklearn_digits
from nalm.tasks.sequences import DigitSequenceTask, number_words, words_split
from nalm.units import AccumulatorCell


class Oracle(nn.Module):
    """Maps each image to its true label (looked up by its pixels): a perfect image network."""

    def __init__(self, images, out):
        super().__init__()
        self.images, self.out = images, out
        self.labels = {
            tuple(x.tolist()): int(y) for x, y in zip(images.test_x, images.test_y, strict=True)
        }

    def forward(self, x):
        labels = torch.tensor([[self.labels[tuple(r.tolist())] for r in seq] for seq in x])
        if self.out == 10:
            return nn.functional.one_hot(labels, 10).float()
        return labels.float().unsqueeze(-1)


@pytest.mark.parametrize("kind", ["count", "sum"])
def test_an_exact_accumulator_scores_perfectly_at_length_1000(kind):
    images = load_sklearn_digits()
    task = DigitSequenceTask(images, kind, 10, eval_size=4)
    size = 10 if kind == "count" else 1
    cell = AccumulatorCell("nau", size, size)
    with torch.no_grad():
        cell.unit.W.copy_(torch.eye(size))
    model = SequenceModel(Oracle(images, size), cell, nn.Identity(), per_step=True)
    x, y = task.test_set(1000, 3)
    predicted = _last(model, x, "cpu").double()
    scores = _scores("1000", predicted, y, None)
    assert scores["accuracy"] == 1.0 and scores["mae"] == 0.0
    # one digit off in every sequence: accuracy 0, MAE exactly 1 (count: 2 entries off by 1 → 0.2)
    wrong = predicted.clone()
    wrong[:, 0] += 1
    scores = _scores("1000", wrong, y, None)
    assert scores["accuracy"] == 0.0
    assert scores["mae"] == pytest.approx(1.0 / size)


def test_digit_targets_are_running_counts_sums_and_products():
    images = load_sklearn_digits()
    labels = torch.tensor([[3, 1, 3], [9, 2, 5]])
    count = DigitSequenceTask(images, "count", 3, eval_size=2).targets(labels)
    assert count[0, 2, 3] == 2 and count[0, 2].sum() == 3 and count[1, 1, 9] == 1
    sums = DigitSequenceTask(images, "sum", 3, eval_size=2).targets(labels)[..., 0]
    assert sums.tolist() == [[3, 4, 7], [9, 11, 16]]
    product = DigitSequenceTask(images, "product", 2, eval_size=2)
    assert product.targets(labels)[..., 0].tolist() == [[3, 3, 9], [9, 18, 90]]
    x, y = product.test_set(20, 5)
    assert x.shape == (5, 20, 64) and bool((y >= 1).all())  # digits 1-9: no zero products


def test_words_and_split():
    assert " ".join(number_words(0)) == "zero"
    assert " ".join(number_words(999)) == "nine hundred and ninety nine"
    assert " ".join(number_words(310)) == "three hundred and ten"
    split = words_split()
    assert sorted(split["train"] + split["valid"] + split["test"]) == list(range(1000))
    vocabulary = {w for n in split["train"] for w in number_words(n)}
    assert len(vocabulary) == 30  # every token appears in training


def _cli(tmp_path, experiment, *extra):
    out = tmp_path / experiment
    args = ["reproduce", experiment, "--seeds", "1", "--steps", "10", "--no-progress"]
    assert main([*args, *extra, "--out", str(out)]) == 0
    return out


def test_reproduce_digits_and_product_at_tiny_size(tmp_path, capsys):
    out = _cli(
        tmp_path, "digits", "--models", "lstm,acc:nau", "--kinds", "sum", "--test-sequences", "2"
    )
    assert {p.name for p in out.iterdir()} >= {"digits.md", "digits.csv", "digits.png"}
    text = (out / "digits.md").read_text()
    assert "| acc:nau |" in text and "## Claims checked" in text and "length 1000" in text
    rows = list(csv.DictReader((out / "digits.csv").open()))
    assert {(r["model"], r["at"]) for r in rows} == {
        (m, L) for m in ("lstm", "acc:nau") for L in ("1", "10", "100", "1000")
    }
    out = _cli(tmp_path, "product", "--models", "nmu,gru", "--test-sequences", "2")
    rows = list(csv.DictReader((out / "product.csv").open()))
    assert len(rows) == 2 * 20
    assert (out / "product.png").stat().st_size > 5000


def test_reproduce_words_and_programs_at_tiny_size(tmp_path):
    out = _cli(tmp_path, "words", "--models", "lstm,lstm>nalu")
    text = (out / "words.md").read_text()
    assert "| lstm | " in text and "29.4" in text and "0.42" in text
    assert "LSTM+NALU test MAE" in text
    out = _cli(tmp_path, "programs", "--models", "lstm,lstm>nau")
    rows = list(csv.DictReader((out / "programs.csv").open()))
    assert {r["at"] for r in rows} == {"train", "interpolation", "extrapolation"}


def test_bad_settings_are_one_sentence():
    with pytest.raises(NalmError, match="--kinds takes count and sum"):
        settings_for("digits", kinds=("product",))
    with pytest.raises(NalmError, match="unknown unit 'nope'"):
        settings_for("digits", models=("nope",))
    with pytest.raises(NalmError, match="read tokens with lstm"):
        settings_for("words", models=("nalu",))
    with pytest.raises(NalmError, match="--steps must be a positive integer"):
        settings_for("product", steps=0)


def test_models_build_for_every_default():
    images = load_sklearn_digits()
    for kind in ("count", "sum", "product"):
        task = DigitSequenceTask(images, kind, 2, eval_size=2)
        experiment = "product" if kind == "product" else "digits"
        settings = settings_for(experiment)
        for name in settings.models:
            model = build_model(settings, kind, name, task)
            x, y = task.sample(3, torch.Generator())
            assert model(x).shape == y.shape, (kind, name)


def test_program_splits_never_share_a_program():
    from nalm.tasks.sequences import ProgramTask

    task = ProgramTask(sizes=(3000, 400, 200))
    rows = {k: {tuple(r.flatten().tolist()) for r in v[0]} for k, v in task.splits.items()}
    assert len(rows["train"]) == 3000 and len(rows["interpolation"]) == 400
    assert not rows["train"] & rows["interpolation"] and not rows["train"] & rows["extrapolation"]
    with pytest.raises(NalmError, match=r"only .* distinct programs"):
        ProgramTask(train_range=(0, 1), sizes=(100, 10, 10))


def test_more_bad_settings():
    with pytest.raises(NalmError, match="--lr must be a positive number"):
        settings_for("digits", lr=-1.0)
    with pytest.raises(NalmError, match="one cell"):
        settings_for("digits", models=("lstm>nalu",))
    with pytest.raises(NalmError, match="--mnist-dir /nonexistent is not a directory"):
        settings_for("digits", mnist_dir="/nonexistent")
