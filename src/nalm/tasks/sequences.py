"""Sequence tasks of Trask et al. §4.2–4.4 and Madsen & Johansen's product variant.

- :class:`DigitSequenceTask`: sequences of handwritten digit images; the target at every step is
  the running count of each digit (``count``), the running sum (``sum``) or the running product
  (``product``, digits 1–9 only).
- :func:`number_words` and :class:`WordsTask`: numbers 0–999 written in English
  ("seven hundred and twenty three") → their value.
- :func:`make_program` and :class:`ProgramTask`: small programs with assignments, ``+``, ``−``
  and if-then-else over integers → the value of the last variable.

Inputs are ``(N, T, features)``: pixels per step, or ``(token id, value)`` pairs for text.
Shorter sequences are padded at the front with token 0, so every sequence ends at step T.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import NalmError
from .base import Pair, Task
from .digits import DigitImages

KINDS = ("count", "sum", "product")


class DigitSequenceTask(Task):
    """Sequences of digit images with per-step targets.

    Args:
        images: the digit images (train and test splits are kept apart: training batches come
            from ``train_x``, :meth:`test_set` from ``test_x``).
        kind: ``"count"`` (targets ``(T, 10)``: how many of each digit so far), ``"sum"`` (the
            running sum of the digits) or ``"product"`` (the running product; digits 1–9).
        length: training sequence length (the papers: 10 for count and sum, 2 for product).
        eval_size: sequences in the fixed ``interpolation`` set (test images, ``length`` long).
        eval_seed: seeds that set.

    Shape:
        inputs ``(N, T, pixels)``, targets ``(N, T, 10)`` or ``(N, T, 1)``.
    """

    def __init__(
        self,
        images: DigitImages,
        kind: str = "sum",
        length: int = 10,
        eval_size: int = 200,
        eval_seed: int = 0,
    ) -> None:
        if kind not in KINDS:
            raise NalmError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise NalmError(f"length must be a positive integer; got {length!r}")
        self.images, self.kind, self.length = images, kind, length
        self.in_features = images.pixels
        self.out_features = 10 if kind == "count" else 1
        self.pools = {
            split: _pool(getattr(images, f"{split}_y"), kind) for split in ("train", "test")
        }
        generator = torch.Generator().manual_seed(eval_seed)
        self.evaluation = {"interpolation": self._draw("test", eval_size, length, generator)}

    def _draw(self, split: str, n: int, length: int, generator: torch.Generator) -> Pair:
        pool = self.pools[split]
        index = pool[torch.randint(0, len(pool), (n, length), generator=generator)]
        x = getattr(self.images, f"{split}_x")[index]
        labels = getattr(self.images, f"{split}_y")[index]
        return x, self.targets(labels)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Per-step targets for digit labels ``(N, T)``."""
        if self.kind == "count":
            return torch.nn.functional.one_hot(labels, 10).float().cumsum(dim=1)
        values = labels.double()
        running = values.cumsum(dim=1) if self.kind == "sum" else values.cumprod(dim=1)
        return running.float().unsqueeze(-1)

    def sample(self, batch_size: int | None, generator: torch.Generator) -> Pair:
        return self._draw("train", batch_size or 128, self.length, generator)

    def test_set(self, length: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` test sequences of ``length`` images and their final targets ``(n, out)``
        (float64, exact)."""
        generator = torch.Generator().manual_seed(seed * 100_003 + length)
        pool = self.pools["test"]
        index = pool[torch.randint(0, len(pool), (n, length), generator=generator)]
        labels = self.images.test_y[index]
        if self.kind == "count":
            final = torch.nn.functional.one_hot(labels, 10).double().sum(dim=1)
        elif self.kind == "sum":
            final = labels.double().sum(dim=1, keepdim=True)
        else:
            final = labels.double().prod(dim=1, keepdim=True)
        return self.images.test_x[index], final

    def config(self) -> dict[str, Any]:
        return {
            "task": f"digits-{self.kind}",
            "length": self.length,
            "images": self.images.source,
        }


def _pool(labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Indices of the images a task draws from: digits 1–9 for products, all otherwise."""
    keep = labels >= 1 if kind == "product" else torch.ones_like(labels, dtype=torch.bool)
    return keep.nonzero()[:, 0]


# -- language to number ------------------------------------------------------------------------
ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> list[str]:
    """``n`` (0–999) in English words, as the papers write them.

    Examples:
        >>> " ".join(number_words(723)), " ".join(number_words(40)), " ".join(number_words(100))
        ('seven hundred and twenty three', 'forty', 'one hundred')
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 999:
        raise NalmError(f"number_words takes an integer 0-999; got {n!r}")
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
        if rest:
            words.append("and")
    if rest or not hundreds:
        if rest < 20:
            words.append(ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            words.append(TENS[tens - 2])
            if ones:
                words.append(ONES[ones])
    return words


VOCABULARY = ("<pad>", *ONES, *TENS, "hundred", "and")


def words_split(
    seed: int = 0, sizes: tuple[int, int, int] = (169, 200, 631)
) -> dict[str, list[int]]:
    """Trask's split of 0–999: ``train`` holds 0–19 plus random numbers until every token has
    appeared, filled at random to ``sizes[0]``; ``valid`` and ``test`` share the rest.

    Examples:
        >>> split = words_split()
        >>> [len(split[k]) for k in ("train", "valid", "test")]
        [169, 200, 631]
        >>> set(range(20)) <= set(split["train"])
        True
    """
    if sum(sizes) != 1000:
        raise NalmError(f"the split sizes must add up to 1000; got {sizes}")
    rng = random.Random(seed)
    train = list(range(20))
    rest = list(range(20, 1000))
    rng.shuffle(rest)
    seen = {w for n in train for w in number_words(n)}
    for n in list(rest):
        if seen >= set(VOCABULARY[1:]):
            break
        new = set(number_words(n)) - seen
        if new:
            train.append(n)
            rest.remove(n)
            seen |= new
    while len(train) < sizes[0]:
        train.append(rest.pop())
    return {
        "train": sorted(train),
        "valid": sorted(rest[: sizes[1]]),
        "test": sorted(rest[sizes[1] :]),
    }


def encode_tokens(sequences: Sequence[Sequence[tuple[int, float]]]) -> torch.Tensor:
    """``(N, T, 2)``: ``(token id, value)`` per step, front-padded with ``(0, 0)``."""
    length = max(len(s) for s in sequences)
    out = torch.zeros(len(sequences), length, 2)
    for i, tokens in enumerate(sequences):
        if tokens:
            out[i, length - len(tokens) :] = torch.tensor(tokens, dtype=torch.float32)
    return out


class TokenTask(Task):
    """A fixed set of token sequences and their values, with named evaluation splits."""

    in_features = 2
    out_features = 1

    def __init__(self, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], name: str) -> None:
        self.splits = splits
        self.name = name
        self.evaluation = {k: v for k, v in splits.items() if k != "train"}

    def sample(self, batch_size: int | None, generator: torch.Generator) -> Pair:
        x, y = self.splits["train"]
        if batch_size is None:
            return x, y
        index = torch.randint(0, len(x), (batch_size,), generator=generator)
        return x[index], y[index]

    def config(self) -> dict[str, Any]:
        return {"task": self.name, **{k: len(v[0]) for k, v in self.splits.items()}}


class WordsTask(TokenTask):
    """Numbers 0–999 as English words → value, on :func:`words_split`'s three splits.

    Inputs ``(N, T, 2)`` are ``(token id, 0)``: the words carry no numeric channel.
    """

    vocabulary = VOCABULARY

    def __init__(self, seed: int = 0) -> None:
        self.numbers = words_split(seed)
        index = {w: i for i, w in enumerate(VOCABULARY)}
        splits = {}
        for key, numbers in self.numbers.items():
            tokens = [[(index[w], 0.0) for w in number_words(n)] for n in numbers]
            splits[key] = (
                encode_tokens(tokens),
                torch.tensor(numbers, dtype=torch.float32)[:, None],
            )
        super().__init__(splits, "words")


# -- program evaluation ------------------------------------------------------------------------
PROGRAM_TOKENS = (
    "<pad>",
    "<num>",
    "a",
    "b",
    "c",
    "d",
    "=",
    "+",
    "-",
    ";",
    "if",
    ">",
    "then",
    "else",
)


def make_program(rng: random.Random, low: int, high: int) -> tuple[list[tuple[str, int]], int]:
    """A small program over integers in ``[low, high]`` and its result.

    ``a = A ; b = B ; c = a ± b ; if c > K then d = c ± a else d = c ± b ; d``, with the
    operators and constants drawn at random. Tokens are ``(name, value)``: numbers are the token
    ``<num>`` with their value; every other token has value 0.

    Examples:
        >>> tokens, result = make_program(random.Random(1), 0, 9)
        >>> " ".join(str(v) if t == "<num>" else t for t, v in tokens)
        'a = 2 ; b = 9 ; c = a - b ; if c > 1 then d = c + a else d = c - b ; d'
        >>> result
        -16
    """
    A, B, K = (rng.randint(low, high) for _ in range(3))
    ops = [rng.choice("+-") for _ in range(3)]
    c = A + B if ops[0] == "+" else A - B
    d = (c + A if ops[1] == "+" else c - A) if c > K else (c + B if ops[2] == "+" else c - B)
    text = (
        f"a = {A} ; b = {B} ; c = a {ops[0]} b ; "
        f"if c > {K} then d = c {ops[1]} a else d = c {ops[2]} b ; d"
    )
    tokens = [("<num>", int(w)) if w.lstrip("-").isdigit() else (w, 0) for w in text.split()]
    return tokens, d


class ProgramTask(TokenTask):
    """Programs from :func:`make_program`: training constants in ``train_range``, evaluation sets
    ``interpolation`` (same range, programs not in the training set) and ``extrapolation``
    (``test_range``). No program appears twice.

    Inputs ``(N, T, 2)`` are ``(token id, value)``; the value channel carries each number.
    """

    vocabulary = PROGRAM_TOKENS

    def __init__(
        self,
        train_range: tuple[int, int] = (0, 9),
        test_range: tuple[int, int] = (10, 99),
        sizes: tuple[int, int, int] = (5000, 500, 500),
        seed: int = 0,
    ) -> None:
        rng = random.Random(seed)
        index = {t: i for i, t in enumerate(PROGRAM_TOKENS)}
        splits = {}
        seen: set[tuple] = set()  # every program appears once, in one split only
        for key, (low, high), n in zip(
            ("train", "interpolation", "extrapolation"),
            (train_range, train_range, test_range),
            sizes,
            strict=True,
        ):
            programs = []
            for _ in range(50 * n):
                if len(programs) == n:
                    break
                program = make_program(rng, low, high)
                if tuple(program[0]) not in seen:
                    seen.add(tuple(program[0]))
                    programs.append(program)
            if len(programs) < n:
                raise NalmError(
                    f"only {len(programs)} distinct programs with constants {low}-{high} for the "
                    f"{key} set of {n}; widen the range or ask for fewer"
                )
            tokens = [[(index[t], float(v)) for t, v in p] for p, _ in programs]
            values = torch.tensor([r for _, r in programs], dtype=torch.float32)[:, None]
            splits[key] = (encode_tokens(tokens), values)
        self.train_range, self.test_range = train_range, test_range
        super().__init__(splits, "programs")

    def config(self) -> dict[str, Any]:
        return {**super().config(), "train_range": self.train_range, "test_range": self.test_range}
