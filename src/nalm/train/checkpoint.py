"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON metadata.

A checkpoint holds what a training loop needs to go on exactly where it stopped: each model's
parameters and buffers, its optimiser's state, the random generators' states and the loop's own
bookkeeping (step, history, losses). Files are written to ``PATH.tmp`` and renamed, so a kill
at any moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import NalmError

FORMAT = "nalm-checkpoint"
VERSION = 1


def fingerprint(settings: Any) -> str:
    """A short hash of JSON-ready ``settings``: a checkpoint only resumes the run it came from."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten_optimizer(prefix: str, state: dict[int, dict[str, Any]]) -> tuple[dict, dict]:
    """An optimiser's ``state_dict()["state"]`` as ``(tensors, json)``."""
    tensors, plain = {}, {}
    for index, entries in state.items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[f"{index}.{key}"] = value
    return tensors, plain


def unflatten_optimizer(prefix: str, tensors: dict, plain: dict) -> dict[int, dict[str, Any]]:
    """The inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for name, value in plain.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return state


def write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a checkpoint atomically (``PATH.tmp``, flushed to disk, then renamed)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    metadata = {"format": FORMAT, "version": str(VERSION), "meta": json.dumps(meta)}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, meta)`` of a checkpoint; one-sentence errors for unusable files."""
    name = str(path)
    try:
        with safe_open(name, framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise NalmError(
            f"cannot resume from {name}: it is truncated or corrupted ({str(e)[:100]}); "
            "delete it to start over"
        ) from None
    if metadata.get("format") != FORMAT:
        raise NalmError(f"cannot resume from {name}: it is not a nalm training checkpoint")
    if metadata.get("version", "").isdigit() and int(metadata["version"]) > VERSION:
        raise NalmError(
            f"cannot resume from {name}: it was written by a newer nalm (checkpoint version "
            f"{metadata['version']}; this nalm reads up to {VERSION})"
        )
    try:
        meta = json.loads(metadata["meta"])
    except (KeyError, json.JSONDecodeError):
        raise NalmError(f"cannot resume from {name}: its description is not JSON") from None
    return tensors, meta
