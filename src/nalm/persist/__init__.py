"""Saving and loading models without pickle: safetensors for tensors, JSON for the architecture.

A file written by :func:`save` is a safetensors file whose metadata holds ``format``
(``"nalm-model"``), ``version`` and ``architecture``: a JSON description built only from
registry names, sizes and constructor options, and for a model made by the grammar
(:meth:`nalm.models.ModelSpec.build`) its spec and build arguments too. :func:`load` parses that
JSON, rebuilds the model through the grammar (``ModelSpec.from_json(...).build(...)``) where the
file has its spec, else through :mod:`nalm.units.registry` (or the recurrent cells), and copies
the tensors in. Nothing in the file is ever executed or unpickled, so loading a file from a
stranger is safe.

The package: :mod:`~nalm.persist.files` (the file: metadata, checks, tensors),
:mod:`~nalm.persist.structure` (the structural description) and :mod:`~nalm.persist.grammar`
(the grammar description).

Examples:
    >>> import json, os, tempfile, torch
    >>> from torch import nn
    >>> from nalm.units import NAU, NMU
    >>> model = nn.Sequential(NAU(4, 2), NMU(2, 1))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save(model, os.path.join(d, "model.safetensors"))
    ...     again = load(os.path.join(d, "model.safetensors"))
    >>> x = torch.rand(5, 4)
    >>> torch.equal(model(x), again(x))
    True
    >>> from nalm.models import parse
    >>> built = parse("nau>nmu").build(4, 1, hidden=2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = save(built, os.path.join(d, "model.safetensors"))
    ...     grammar = json.loads(read_metadata(path)["architecture"])["grammar"]
    ...     again = load(path)
    >>> grammar["spec"], torch.equal(built(x), again(x))
    ('nau>nmu', True)
"""

from .files import DTYPES, FORMAT, GRAMMAR, VERSION, load, read_metadata, save
from .grammar import grammar_of, rebuild
from .structure import MAX_DEPTH, build, describe, unit_options

__all__ = [
    "DTYPES",
    "FORMAT",
    "GRAMMAR",
    "MAX_DEPTH",
    "VERSION",
    "build",
    "describe",
    "grammar_of",
    "load",
    "read_metadata",
    "rebuild",
    "save",
    "unit_options",
]
