"""Write two noise-free tables of Ohm's law, I = V / R, for ``nalm fit``.

``ohm_train.csv`` holds everyday values (V from 1 to 12 volts, R from 1 to 100 ohms);
``ohm_test.csv`` holds values far outside them (V up to 10 kV, R up to 100 kΩ). A temperature
column T, which the current does not depend on, is in both: the fitted formula should drop it.

    python examples/ohm_law.py --out data
    nalm fit data/ohm_train.csv --target I --test data/ohm_test.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path


def write(
    path: Path, rows: int, volts: tuple[float, float], ohms: tuple[float, float], rng
) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["V", "R", "T", "I"])
        for _ in range(rows):
            V = round(rng.uniform(*volts), 2)
            R = round(rng.uniform(*ohms), 1)
            T = round(rng.uniform(15.0, 35.0), 1)
            writer.writerow([V, R, T, repr(V / R)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", help="directory for the two CSV files")
    parser.add_argument("--rows", type=int, default=200, help="rows per file (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    write(out / "ohm_train.csv", args.rows, (1.0, 12.0), (1.0, 100.0), rng)
    write(out / "ohm_test.csv", args.rows, (100.0, 10_000.0), (1_000.0, 100_000.0), rng)
    print(f"wrote {out / 'ohm_train.csv'} and {out / 'ohm_test.csv'}")


if __name__ == "__main__":
    main()
