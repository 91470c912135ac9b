"""A griffe extension for the site's API reference: the docstrings are written for ``help()`` and
Sphinx-style readers (``.. math::`` blocks, ``:class:`~nalm.X``` roles); the site renders
Markdown, so each docstring is rewritten as it is loaded: a math block becomes a ``$$`` block that
KaTeX typesets, a role becomes a code span (``~`` keeps the last component of the name)."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    name = match.group(2)
    if match.group(1):
        name = name.rsplit(".", 1)[-1]
    return f"`{name}`"


def _math_blocks(text: str) -> str:
    """``.. math::`` and its indented body → a display block between ``$$`` lines."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != ".. math::":
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        body: list[str] = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        math = textwrap.dedent("\n".join(body)).strip()
        if "&" in math or "\\\\" in math:  # Sphinx aligns such lines itself; KaTeX is told to
            math = f"\\begin{{aligned}}\n{math}\n\\end{{aligned}}"
        out += ["", f"{indent}$$", *(indent + m for m in math.split("\n")), f"{indent}$$", ""]
    return "\n".join(out)


def _fence_doctests(text: str) -> str:
    """Each run of ``>>>`` lines with their output → a fenced ``pycon`` block (Markdown would read
    a bare ``>>>`` as a nested quote)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(indent + lines[i][len(indent) :])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def to_markdown(text: str) -> str:
    """The site's reading of one docstring.

    >>> print(to_markdown("See :class:`~nalm.units.NAU`.\\n\\n.. math::\\n    y = x W^\\\\top\\n"))
    See `NAU`.
    <BLANKLINE>
    <BLANKLINE>
    $$
    y = x W^\\top
    $$
    <BLANKLINE>
    >>> to_markdown("Example:\\n    >>> 1 + 1\\n    2").split("\\n")
    ['Example:', '    ```pycon', '    >>> 1 + 1', '    2', '    ```']
    """
    return _fence_doctests(_math_blocks(_ROLE.sub(_role, text)))


class RstToMarkdown(griffe.Extension):
    """Rewrites every docstring griffe loads with :func:`to_markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
