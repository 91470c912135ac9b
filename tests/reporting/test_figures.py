import matplotlib

from nalm.reporting import figures


def test_figures_use_the_agg_backend_and_close_what_they_save(tmp_path):
    assert matplotlib.get_backend().lower() == "agg"
    fig, ax = figures.plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    path = figures.save(fig, tmp_path / "x.png", dpi=40)
    assert path == tmp_path / "x.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not figures.plt.fignum_exists(fig.number)


def test_no_other_module_chooses_the_backend():
    from pathlib import Path

    src = Path(figures.__file__).resolve().parents[1]
    choosing = [
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if "matplotlib.use(" in p.read_text() or "import matplotlib.pyplot" in p.read_text()
    ]
    assert choosing == ["reporting/figures.py"]
