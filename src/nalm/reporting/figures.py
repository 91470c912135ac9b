"""The one place nalm loads matplotlib, with the Agg backend: it writes PNGs and needs no display.

Modules that draw import ``plt`` from here (``from nalm.reporting.figures import plt``), so that
the backend is chosen before ``matplotlib.pyplot`` first loads, whichever module draws first.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..files import open_atomic

__all__ = ["plt", "save"]


def save(fig: Figure, path: Path, dpi: int = 110, *, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (laid out tightly unless ``tight=False``) and close it.

    Examples:
        >>> import tempfile
        >>> fig, ax = plt.subplots(figsize=(2, 2))
        >>> _ = ax.plot([0, 1], [0, 1])
        >>> path = save(fig, Path(tempfile.mkdtemp()) / "line.png", dpi=50)
        >>> path.read_bytes()[:4], plt.fignum_exists(fig.number)
        (b'\\x89PNG', False)
    """
    if tight:
        fig.tight_layout()
    with open_atomic(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    plt.close(fig)
    return path
