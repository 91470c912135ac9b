"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON metadata.

A checkpoint holds what the training engine needs to go on exactly where it stopped: for each
engine (one per model of a ``fit``, one per ``fit_seeds`` cohort) its stacked parameters and
buffers, its optimiser's state, its batch generators' states and its bookkeeping (step, history,
losses, restarts, recoveries, active seeds), as ``Engine.state_dict`` gives it;
:func:`run_engines` runs a door's engines with their checkpoints.
Files are written to ``PATH.<pid>.tmp`` and renamed, so a kill
at any moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes

from ..errors import NalmError
from ..files import settings_hash, write_bytes
from .compiled import choose
from .records import Cadence

if TYPE_CHECKING:
    from .engine import Engine

FORMAT = "nalm-checkpoint"
VERSION = 3  # 3: compacted rows; 2: the engine's state (1: the one-seed loop before it)
READS = (2, 3)  # a version-2 file is an engine that kept every row


def fingerprint(settings: Any) -> str:
    """The settings' hash (:func:`nalm.files.settings_hash`, 16 hex digits): a checkpoint
    only resumes the run it came from."""
    return settings_hash(settings, 16)


def save_engines(path: Path, engines: Mapping[str, Engine], fingerprint: str) -> None:
    """Write the state of ``engines`` (by name) and of torch's global random generators (a
    model may draw from them, e.g. dropout) to one checkpoint file."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for j, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{j}"] = state
    states = []
    for i, engine in enumerate(engines.values()):
        engine_tensors, meta = engine.state_dict()
        meta["compiled"] = engine.compiled is not None  # its step: a resumed run keeps it
        tensors.update({f"{i}/{k}": v.detach().cpu() for k, v in engine_tensors.items()})
        states.append(meta)
    step = sum(state["step"] for state in states)  # steps done, over the engines in turn
    meta = {"fingerprint": fingerprint, "step": step, "names": list(engines), "engines": states}
    write(path, tensors, meta)


def restore_engines(
    path: Path, engines: Mapping[str, Engine], fingerprint: str
) -> dict[str, bool] | None:
    """Load ``engines`` (matched by name) and torch's global random generators from the
    checkpoint at ``path`` if it exists: by name, whether each trained on the compiled step
    (``False`` where the file does not record it: one written before 2026-12-07, when runs
    trained on the eager step unless asked); ``None`` when there is no file. A checkpoint of
    other settings is refused."""
    if not Path(path).exists():
        return None
    tensors, meta = read(Path(path))
    names, states = meta.get("names"), meta.get("engines")
    if (
        meta.get("fingerprint") != fingerprint
        or not isinstance(names, list)
        or sorted(map(str, names)) != sorted(engines)
        or len(states or ()) != len(names)
    ):
        raise NalmError(
            f"{path} is a checkpoint of a run with other settings; delete it or train into "
            "another directory"
        )
    for name, engine in engines.items():
        i = names.index(name)
        head = f"{i}/"
        engine.load_state_dict(
            {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}, states[i]
        )
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors.get(f"rng.cuda.{j}") for j in range(torch.cuda.device_count())]
    if cuda and all(state is not None for state in cuda):  # the same GPUs as when written
        torch.cuda.set_rng_state_all(cuda)
    return {name: bool(states[names.index(name)].get("compiled")) for name in engines}


def run_engines(
    engines: Mapping[str, Engine],
    labels: Mapping[str, str],
    settings: dict[str, Any],
    schedule: Cadence,
    checkpoint: str | Path | None,
    progress: bool,
    compile: bool | None = False,
) -> None:
    """Run ``engines`` one after the other. With ``checkpoint``, their states are written to one
    file every ``checkpoint_every`` steps, and a file written by the same settings is resumed.
    ``compile``: which step each engine trains with (:func:`~nalm.train.compiled.choose`: a
    resumed engine goes on on the step it trained on), printed once where it matters."""
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise NalmError(f"checkpoint {str(checkpoint)!r} is a directory; give a file path")
    when = asdict(replace(schedule, early_stop=None))
    when.pop("checkpoint_seconds")  # how often the file is written does not change the run,
    when.pop("compact")  # nor does compaction (beyond float rounding)
    key = fingerprint({**settings, "schedule": when})
    save, resumed = None, None
    if checkpoint is not None:
        resumed = restore_engines(Path(checkpoint), engines, key)
        save = lambda: save_engines(Path(checkpoint), engines, key)  # noqa: E731
    for name, engine in engines.items():
        begun = resumed is not None and engine.step > 0  # an engine not begun chooses afresh
        if choose(engine, compile, resumed[name] if begun else None):  # type: ignore[index]
            print(f"{labels[name]}: {engine.choice}", file=sys.stderr)
    for name, engine in engines.items():
        engine.run(save, progress, labels[name])


def write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a checkpoint atomically (:func:`nalm.files.write_bytes`: a temporary file of
    this process, flushed to disk, then renamed; a failed write leaves the last checkpoint
    whole)."""
    metadata = {"format": FORMAT, "version": str(VERSION), "meta": json.dumps(meta)}
    data = save_bytes({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)
    write_bytes(Path(path), data)


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
    version = metadata.get("version", "")
    if version.isdigit() and int(version) > VERSION:
        raise NalmError(
            f"cannot resume from {name}: it was written by a newer nalm (checkpoint version "
            f"{version}; this nalm reads up to {VERSION})"
        )
    if not version.isdigit() or int(version) not in READS:
        raise NalmError(
            f"cannot resume from {name}: it was written by an earlier nalm's trainer (checkpoint "
            f"version {version or '?'}; this nalm resumes versions {READS[0]}–{READS[-1]}); delete "
            "it to start over"
        )
    try:
        meta = json.loads(metadata["meta"])
    except (KeyError, json.JSONDecodeError):
        raise NalmError(f"cannot resume from {name}: its description is not JSON") from None
    return tensors, meta
