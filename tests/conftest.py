import os
import signal
import subprocess
import time

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(1234)


@pytest.fixture(autouse=True)
def _imports_stay_in_their_test():
    """What a test brings in with ``--import`` (often a file in its tmp_path, deleted after it)
    is forgotten after it, so later Ray tests do not hand it to their workers."""
    from nalm.units import imports

    before = imports.loaded()
    yield
    for name in imports.loaded():
        if name not in before:
            imports.forget(name)


def saturate(w: torch.Tensor, scale: float = 30.0) -> tuple[torch.Tensor, torch.Tensor]:
    """W_hat and M_hat that make tanh(W_hat)·σ(M_hat) equal ``w`` ∈ {−1, 0, 1} in float32."""
    W_hat = torch.sign(w) * scale
    M_hat = torch.where(w == 0, torch.full_like(w, -scale), torch.full_like(w, scale))
    return W_hat, M_hat


def run_to_end(command: list[str], **kwargs) -> "subprocess.CompletedProcess[str]":
    """Run a CLI command in a subprocess (hash seed fixed) and return when it has finished."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        command, check=True, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


def kill_when(command: list[str], ready, timeout: float = 120.0, poll: float = 0.02) -> None:
    """Start a CLI command, wait until ``ready()`` is true (or ``timeout``), then SIGKILL it."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and not ready():
        time.sleep(poll)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
