"""examples/custom_unit, a package of its own (`make setup-dev` installs it), brings its unit in
through the ``nalm.units`` entry point: nalm checks it, benchmarks it and ranks it."""

import importlib.metadata
import re

from nalm import cli
from nalm.units import registry


def test_the_example_package_is_installed_and_its_unit_is_registered():
    points = {e.name: e.value for e in importlib.metadata.entry_points(group="nalm.units")}
    assert points.get("soft_nau") == "nalm_soft_nau:SoftNAU", (
        "examples/custom_unit is not installed; `make setup-dev` installs it "
        "(pip install --no-deps -e examples/custom_unit)"
    )
    assert registry.get("soft_nau").__module__ == "nalm_soft_nau"


def test_the_example_unit_is_checked_benchmarked_and_ranked(tmp_path, capsys):
    assert cli.main(["units", "check", "soft_nau"]) == 0
    assert "soft_nau passes the 11 required checks" in capsys.readouterr().out
    db = str(tmp_path / "soft.sqlite")
    run = ["bench", "run", "madsen", "--models", "soft_nau", "--ops", "add", "--seeds", "3",
           "--steps", "200", "--eval-every", "100", "--eval-size", "256", "--db", db,
           "--no-progress"]  # fmt: skip
    assert cli.main(run) == 0
    assert "3 rows written" in capsys.readouterr().out
    out = tmp_path / "report"
    assert cli.main(["bench", "report", "--db", db, "--out", str(out), "--reference"]) == 0
    ranking = (out / "ranking.md").read_text()
    assert re.search(r"\| yours \| soft_nau>soft_nau \| [0-3]/3, ", ranking)
    assert "| nalm reference | nau>nau | 100/100, 100 % (96–100) |" in ranking
