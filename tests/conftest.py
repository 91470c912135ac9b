import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(1234)


def saturate(w: torch.Tensor, scale: float = 30.0) -> tuple[torch.Tensor, torch.Tensor]:
    """W_hat and M_hat that make tanh(W_hat)·σ(M_hat) equal ``w`` ∈ {−1, 0, 1} in float32."""
    W_hat = torch.sign(w) * scale
    M_hat = torch.where(w == 0, torch.full_like(w, -scale), torch.full_like(w, scale))
    return W_hat, M_hat
