"""The documentation site: the strict MkDocs build (the tutorial executed, the API and CLI
references generated), then every page opened in headless Chromium.

The build needs the ``docs`` extra (``pip install 'nalm[docs]'``, which ``make test`` installs);
the browser test needs Chromium from the distribution (``make test`` installs it where it can).
Screenshots of the home, tutorial and one API page are written to ``runs/site-screenshots/``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("NALM_SCREENSHOTS", ROOT / "runs" / "site-screenshots"))
NAV_PAGES = (
    "index.html",
    "tutorial/index.html",
    "units/index.html",
    "training/index.html",
    "benchmark/index.html",
    "reproduce/index.html",
    "recipes/index.html",
    "formulas/index.html",
    "extending/index.html",
    "reliability/index.html",
    "architecture/index.html",
    "reference/nalm/index.html",
    "reference/units/index.html",
    "reference/train/index.html",
    "reference/bench/index.html",
    "reference/cli/index.html",
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="the docs extra is not installed (pip install 'nalm[docs]')",
)


def _load_griffe_rst():
    spec = importlib.util.spec_from_file_location("griffe_rst", ROOT / "docs/_build/griffe_rst.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, float]:
    """The site built once for this module: its folder, the build's output and its seconds."""
    out = tmp_path_factory.mktemp("site")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stderr, seconds


def test_strict_build_has_every_page_and_no_warning(built):
    site, log, _ = built
    assert "WARNING" not in log
    for page in NAV_PAGES:
        assert (site / page).is_file(), page


def test_the_tutorial_ran_and_its_story_holds(built):
    html = (built[0] / "tutorial/index.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # the three pictures
    assert "Traceback" not in html
    # the executed numbers: the NAC's formula read back, the law found by the search
    assert "x0 - x1" in html
    assert re.search(r"law: x0/4 \+ x1/2 \+ x2\*\*2 \| exact: True", html)


def test_references_are_generated(built):
    cli = (built[0] / "reference/cli/index.html").read_text()
    for command in ("nalm train --help", "nalm fit --help", "nalm bench run --help"):
        assert command in cli
    assert "--tensorboard" in cli
    units = (built[0] / "reference/units/index.html").read_text()
    for name in ("NALU", "NMU", "RealNPU", "DMU"):
        assert f'id="nalm.units.{name}"' in units
    assert 'class="arithmatex"' in units  # the docstrings' math, ready for KaTeX


def test_every_public_name_is_in_the_reference(built):
    import nalm
    import nalm.bench
    import nalm.train
    import nalm.units

    def ids(page: str) -> set[str]:
        html = (built[0] / f"reference/{page}/index.html").read_text()
        return set(re.findall(r'id="([\w.]+)"', html))

    units, train, top, bench = ids("units"), ids("train"), ids("nalm"), ids("bench")
    missing = [n for n in nalm.units.__all__ if f"nalm.units.{n}" not in units]
    assert missing == ["recurrent"]  # the submodule's name; the function has its own section
    assert "nalm.units.recurrent.recurrent" in units
    assert [n for n in nalm.train.__all__ if f"nalm.train.{n}" not in train] == []
    elsewhere = set(nalm.units.__all__) | set(nalm.train.__all__) | {"tasks", "units"}
    assert [n for n in nalm.__all__ if n not in elsewhere and f"nalm.{n}" not in top] == []
    for name in nalm.bench.__all__:  # each in the section of the module that defines it
        assert any(i.startswith("nalm.bench.") and i.endswith(f".{name}") for i in bench), name


def test_docstrings_are_rewritten_for_markdown():
    to_markdown = _load_griffe_rst().to_markdown
    text = "A :class:`~nalm.units.NAU` and :func:`nalm.fit`.\n\n.. math::\n    y = x W^\\top\n"
    aligned = to_markdown(".. math::\n    a &= b \\\\\n    c &= d\n")
    assert "\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}" in aligned
    assert to_markdown(text).split("\n") == [
        "A `NAU` and `nalm.fit`.",
        "",
        "",
        "$$",
        "y = x W^\\top",
        "$$",
        "",
    ]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser(built):
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install 'nalm[docs]')")
    if _chromium() is None:
        pytest.skip("Chromium is not installed (make test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(built[0]))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chromium, f"http://127.0.0.1:{server.server_address[1]}/"
        chromium.close()
    server.shutdown()


def _open(browser, url: str):
    """A page at ``url`` and the console errors it raised while loading."""
    chromium, _ = browser
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"{r.url}: {r.failure}"))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, errors


def test_every_page_loads_with_images_and_math(browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {"index.html": "home", "tutorial/index.html": "tutorial"}
    shots["reference/units/index.html"] = "api-units"
    for path in NAV_PAGES:
        page, errors = _open(browser, browser[1] + path.removesuffix("index.html"))
        assert errors == [], (path, errors)
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length"
        )
        assert broken == 0, path
        wrapped = page.locator(".arithmatex").count()
        assert page.locator(".arithmatex .katex").count() == wrapped, path
        assert page.locator(".katex-error").count() == 0, path
        if path in shots:
            if path.startswith("reference/units"):  # a unit with its formula in view
                page.locator('[id="nalm.units.NAC"]').scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / f"{shots[path]}.png"), full_page=False)
        page.close()
    assert all((SCREENSHOTS / f"{name}.png").stat().st_size > 10_000 for name in shots.values())


def test_math_renders_on_the_tutorial_and_the_units_reference(browser):
    for path, least in (("tutorial/", 3), ("reference/units/", 10)):
        page, _ = _open(browser, browser[1] + path)
        assert page.locator(".katex").count() >= least, path
        page.close()


def test_search_finds_the_nmu_for_multiplication(browser):
    page, errors = _open(browser, browser[1])
    page.locator(".md-search__input").click()
    page.keyboard.type("multiplication", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=20_000)
    results = page.locator(".md-search-result__item")
    texts = [results.nth(i).inner_text() for i in range(min(results.count(), 10))]
    hrefs = [
        results.nth(i).locator("a").first.get_attribute("href")
        for i in range(min(results.count(), 10))
    ]
    assert any("NMU" in text for text in texts), texts
    assert any("units/" in (href or "") for href in hrefs), hrefs
    assert errors == []
    page.close()
