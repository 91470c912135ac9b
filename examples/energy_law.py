"""Write two noise-free tables of a body's mechanical energy, E = m·v²/2 + 9.81·m·h, for
``nalm fit``: a law with a sum, a square and two constants.

``energy_train.csv`` holds 300 rows with the mass m (kg), the speed v (m/s) and the height h (m)
each from 1 to 5; ``energy_test.csv`` holds 300 rows with each from 5 to 50, far outside them.

    python examples/energy_law.py --out data
    nalm fit data/energy_train.csv --target E --test data/energy_test.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path


def write(path: Path, rows: int, low: float, high: float, rng: random.Random) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["m", "v", "h", "E"])
        for _ in range(rows):
            m, v, h = (round(rng.uniform(low, high), 3) for _ in range(3))
            writer.writerow([m, v, h, repr(m * v**2 / 2 + 9.81 * m * h)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", help="directory for the two CSV files")
    parser.add_argument("--rows", type=int, default=300, help="rows per file (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    write(out / "energy_train.csv", args.rows, 1.0, 5.0, rng)
    write(out / "energy_test.csv", args.rows, 5.0, 50.0, rng)
    print(f"wrote {out / 'energy_train.csv'} and {out / 'energy_test.csv'}")


if __name__ == "__main__":
    main()
