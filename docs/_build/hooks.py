"""MkDocs hooks of the site (mkdocs.yml ``hooks:``).

KaTeX, which typesets the math, is not downloaded by the reader's browser: the build copies a
pinned release from the npm registry (``npm pack``, once) into ``docs/assets/katex/`` (ignored
by git), so the site works offline. The code blocks of the pages (markdown-exec) run in this
process, on one thread.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

KATEX = "katex@0.19.1"


def _ensure_katex(docs: Path) -> None:
    target = docs / "assets" / "katex"
    if (target / "katex.min.js").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError(
            f"the site's math needs {KATEX} from the npm registry, and npm is missing"
        )
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", KATEX, "--silent"], cwd=tmp, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise PluginError(f"npm pack {KATEX} failed: {done.stderr.strip()[:300]}")
        archive = Path(tmp) / done.stdout.strip().splitlines()[-1]
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(tmp) / "package" / "dist", target)
    (target / "README.md").unlink(missing_ok=True)  # not a page of the site


def on_config(config: Any, **kwargs: Any) -> Any:
    _ensure_katex(Path(config["docs_dir"]))
    # the pages' code trains tiny models: one thread is fastest, and a second one only spins
    # when another process holds the other core
    import torch

    torch.set_num_threads(1)
    return config
