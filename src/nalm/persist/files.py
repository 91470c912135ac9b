"""Writing and reading model files: safetensors for the tensors, JSON metadata for the rest.

A file's metadata holds ``format`` (``"nalm-model"``), ``version``, ``dtype``, ``info`` and
``architecture``: the structural description (:mod:`nalm.persist.structure`) and, for a model
made by the grammar, its grammar description under ``"grammar"``
(:mod:`nalm.persist.grammar`). Readers that do not know the grammar key (nalm before it, same
format version) build from the structure and ignore it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes
from torch import nn

from ..errors import NalmError
from ..files import write_bytes
from ..limits import check_device
from .grammar import agrees, grammar_of, rebuild
from .structure import build, describe

FORMAT = "nalm-model"
VERSION = 1
"""The newest format version this nalm writes and reads."""
DTYPES = ("float16", "bfloat16", "float32", "float64")
GRAMMAR = "grammar"
"""The key of the grammar description in a file's architecture."""


def save(model: nn.Module, path: str | Path, **info: Any) -> Path:
    """Write ``model`` to ``path``: its tensors as safetensors, its architecture as JSON metadata.

    Args:
        model: a registry unit, a stack of them, or a recurrent model (see
            :func:`~nalm.persist.structure.describe`); a model made by the grammar
            (:meth:`nalm.models.ModelSpec.build`) is also stored as its spec and build arguments.
        path: the file to write (conventionally ``*.safetensors``).
        **info: JSON-ready extras stored beside the architecture (e.g. ``formula="x0 + x1"``).

    Returns:
        The path written.

    Raises:
        NalmError: naming ``path``, where it is a directory, its folder is missing or not a
            folder, or the file cannot be written there.
    """
    architecture = describe(model)
    grammar = grammar_of(model, architecture)
    if grammar is not None:
        architecture[GRAMMAR] = grammar
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    dtypes = {
        str(v.dtype).removeprefix("torch.") for v in tensors.values() if v.is_floating_point()
    }
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "dtype": dtypes.pop() if len(dtypes) == 1 else "float32",
        "architecture": json.dumps(architecture),
        "info": json.dumps(info, default=str),
    }
    _check_target(path)
    # written whole by temporary file and rename: a reader never sees half a file, a full disk
    # leaves the old file as it was, and a link in its place is replaced, not followed
    try:
        return write_bytes(path, save_bytes(tensors, metadata=metadata))
    except OSError as e:  # the error would name the temporary file, not the one asked for
        raise NalmError(f"cannot save to {str(path)!r}: {e.strerror or _short(e)}") from None


def _check_target(path: str | Path) -> None:
    """Refuse a ``path`` :func:`save` cannot write a file at, in a sentence naming it."""
    target = Path(path)
    name = repr(str(path))
    if target.is_dir() and not target.is_symlink():  # a link is replaced, so it may stay
        raise NalmError(f"cannot save to {name}: it is a directory")
    folder = target.parent
    if not folder.exists():
        raise NalmError(f"cannot save to {name}: its folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NalmError(f"cannot save to {name}: {str(folder)!r} is not a folder")


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file, with one-sentence errors for unreadable files."""
    name = str(path)
    if Path(path).is_dir():
        raise NalmError(f"cannot load {name}: it is a directory, not a model file")
    try:
        with safe_open(name, framework="pt") as f:
            return dict(f.metadata() or {})
    except FileNotFoundError:
        raise NalmError(f"cannot load {name}: no such file") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise NalmError(
            f"cannot load {name}: it is truncated or not a safetensors file ({_short(e)})"
        ) from None


def load(path: str | Path, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the model :func:`save` wrote to ``path``; nothing in the file is executed.

    A model saved with its grammar description is made again through
    ``ModelSpec.from_json(...).build(...)`` (so it carries its spec again); any other from its
    structural description. Either way the tensors are checked against the description before
    anything is allocated, then copied in.

    Raises:
        NalmError: in one sentence naming the file, for a missing, truncated or corrupted file,
            a file that is not a nalm model, an unknown format version (above this nalm's, or
            not a whole number from 1), a description that is not valid (an empty stack, layers
            whose sizes do not chain, a size beyond the limit) or does not match the file's
            tensors, and weights that are NaN or infinite.
    """
    name = str(path)
    device = check_device(device)
    architecture, dtype = _architecture(name, read_metadata(path))
    grammar = architecture.pop(GRAMMAR, None)
    # First skeletons on the meta device (no memory), checked against the file's own tensors,
    # so that a description of a huge model in a small file cannot make us allocate it.
    try:
        with torch.device("meta"):
            skeleton = build(architecture)
            same = grammar is None or agrees(rebuild(grammar), architecture)
    except NalmError as e:  # the description's own sentence, with the file it came from
        raise NalmError(f"cannot load {name}: {e}") from None
    if not same:
        raise NalmError(
            f"cannot load {name}: its grammar description and its architecture describe "
            "different models"
        )
    tensors = _tensors(name, {k: tuple(v.shape) for k, v in skeleton.state_dict().items()})
    for key, _ in skeleton.named_parameters():  # buffers may hold ±inf on purpose (masks)
        if not bool(torch.isfinite(tensors[key]).all()):
            bad = int((~torch.isfinite(tensors[key])).sum())
            raise NalmError(
                f"cannot load {name}: weight {key} holds {bad:,} NaN or infinite value"
                f"{'s' if bad > 1 else ''}"
            )
    model = (build(architecture) if grammar is None else rebuild(grammar)).to(dtype)
    model.load_state_dict(tensors)
    return model.to(device)


def _architecture(name: str, metadata: dict[str, str]) -> tuple[dict[str, Any], torch.dtype]:
    """The architecture description and the dtype of a file, its format and version checked."""
    if metadata.get("format") != FORMAT:
        raise NalmError(
            f"cannot load {name}: it is not a nalm model file (no '{FORMAT}' format tag)"
        )
    text = metadata.get("version", "")
    # ASCII digits only: int() would also take '-3', ' 1', '١' and choke on 5,000 digits
    version = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
    if version > VERSION:
        raise NalmError(
            f"cannot load {name}: it was written by a newer nalm (format version {version}; "
            f"this nalm reads up to {VERSION})"
        )
    if version < 1:
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
        raise NalmError(
            f"cannot load {name}: its format version {shown} is not one nalm writes (versions "
            f"are whole numbers from 1; this nalm reads 1 to {VERSION})"
        )
    try:
        architecture = json.loads(metadata["architecture"])
    except (KeyError, json.JSONDecodeError, RecursionError):
        raise NalmError(
            f"cannot load {name}: its architecture description is missing or not JSON"
        ) from None
    except ValueError:  # Python's limit on the digits of an integer read from text
        raise NalmError(
            f"cannot load {name}: its architecture description holds a number of more than "
            f"{sys.get_int_max_str_digits():,} digits, far beyond any size"
        ) from None
    if not isinstance(architecture, dict):
        raise NalmError(f"cannot load {name}: its architecture description is not a JSON object")
    dtype_name = metadata.get("dtype", "float32")
    if dtype_name not in DTYPES:
        raise NalmError(f"cannot load {name}: its dtype {dtype_name!r} is not one of {DTYPES}")
    return architecture, getattr(torch, dtype_name)


def _tensors(name: str, expected: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """The file's tensors, once their names, shapes and types match ``expected``."""
    try:
        with safe_open(name, framework="pt") as f:
            keys = list(f.keys())
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in keys}
            kinds = {key: f.get_slice(key).get_dtype() for key in keys}
            _match(name, expected, shapes, kinds)
            return {key: f.get_tensor(key) for key in keys}
    except NalmError:
        raise
    except (SafetensorError, OSError, ValueError) as e:
        raise NalmError(
            f"cannot load {name}: its tensors are truncated or corrupted ({_short(e)})"
        ) from None


def _match(
    name: str, expected: dict[str, tuple], shapes: dict[str, tuple], kinds: dict[str, str]
) -> None:
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        problem = f"lacks {_few(missing)}" if missing else f"has unknown {_few(unexpected)}"
        raise NalmError(
            f"cannot load {name}: its tensors do not match its architecture ({problem})"
        )
    for key, shape in shapes.items():
        if shape != expected[key]:
            raise NalmError(
                f"cannot load {name}: tensor {key} has shape {shape}, the architecture needs "
                f"{expected[key]}"
            )
        if kinds[key] not in ("F16", "BF16", "F32", "F64"):
            raise NalmError(f"cannot load {name}: tensor {key} is {kinds[key]}, not a float type")


def _few(names: list[str], shown: int = 5) -> str:
    """At most ``shown`` names, then how many more: keeps an error message one short line."""
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more"


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:120]
