"""Published results, quoted as the papers report them, for the report's side-by-side columns.

Madsen & Johansen (2020), arithmetic task (100 seeds each): success rate in %, the median step at
which successful seeds were solved, and the sparsity error. ``None`` where the paper gives no
figure. Quoted from ``REFERENCE.md``; not re-derived here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    success: float  # percent
    solved_at: float | None = None
    sparsity_error: float | None = None


_ALL_MADSEN = ("NMU", "NAU", "NAC•", "NAC+", "NALU", "Linear", "ReLU", "ReLU6")

MADSEN: dict[tuple[str, str], Published] = {
    ("NMU", "mul"): Published(98, 1.4e6, 4.2e-7),
    ("NAC•", "mul"): Published(31),
    ("NALU", "mul"): Published(0),
    ("NAU", "mul"): Published(0),
    ("NAC+", "mul"): Published(0),
    ("Linear", "mul"): Published(0),
    ("ReLU", "mul"): Published(0),
    ("ReLU6", "mul"): Published(0),
    ("NAU", "add"): Published(100, 1.8e4, 3.2e-5),
    ("Linear", "add"): Published(100, 6.1e4),
    ("NAC+", "add"): Published(100, 2.5e5),
    ("ReLU", "add"): Published(62),
    ("NALU", "add"): Published(14, 1.5e6),
    ("NAU", "sub"): Published(100, 5.0e3, 6.6e-2),
    ("NAC+", "sub"): Published(100, 9.0e3),
    ("NMU", "sub"): Published(56),
    ("NALU", "sub"): Published(14),
    ("Linear", "sub"): Published(7),
    ("ReLU", "sub"): Published(0),
    ("NMU", "squared"): Published(100, 1.2e6),
    ("NAC•", "squared"): Published(77),
    ("NAC•", "root"): Published(7),
    ("NALU", "root"): Published(2),
    **{(m, "div"): Published(0) for m in _ALL_MADSEN},
    **{(m, "root"): Published(0) for m in ("NMU", "NAU", "NAC+", "Linear", "ReLU", "ReLU6")},
}

PUBLISHED: dict[str, dict[tuple[str, str], Published]] = {"madsen": MADSEN}


def published(suite: str, paper_name: str | None, operation: str) -> Published | None:
    """The published figure for a model (by its paper name) and operation, if any.

    Examples:
        >>> published("madsen", "NMU", "mul").success
        98
        >>> published("madsen", None, "mul") is None
        True
    """
    if paper_name is None:
        return None
    return PUBLISHED.get(suite, {}).get((paper_name, operation))
