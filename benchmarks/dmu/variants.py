"""The DMU as its author's code trains it; load with
``nalm bench run --import benchmarks/dmu/variants.py``.

The code (Curry 2025, the fork marict/nalm-benchmark, ``stable_nalu/layer/dag.py``) fixes the
operand weights ``O`` at ``(1, 1)`` for + and × or ``(1, −1)`` for − and ÷ (``--freeze-O``) and
learns the gate alone. Registered here, beside nalm's own ``dmu`` (operands ½ and learned):

- ``dmu_add``, ``dmu_sub``: operands frozen at ``(1, 1)`` / ``(1, −1)`` (the code's runs);
- ``dmu_add_free``, ``dmu_sub_free``: the same start, operands learned;
- ``dmu_add_cold``, ``dmu_sub_cold``: frozen, the gate at temperature 0.01, ``g = σ(G/0.01)``
  (the code has ``--G-temperature``, default 1; the value its final runs used is not recorded,
  and 0.01 is our choice).
"""

from __future__ import annotations

import torch

from nalm.units import DMU, register


class _Variant(DMU):
    init_name = "half"
    frozen = False
    temperature = 1.0
    stackable = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_features,
            out_features,
            init=self.init_name,
            freeze_operands=self.frozen,
            temperature=self.temperature,
            device=device,
            dtype=dtype,
        )


class DMUAdd(_Variant):
    """The DMU with its operands frozen at (1, 1): + at g = 1, × at g = 0."""

    init_name, frozen, stackable = "add", True, True


class DMUSub(_Variant):
    """The DMU with its operands frozen at (1, −1): − at g = 1, ÷ at g = 0."""

    init_name, frozen, stackable = "sub", True, True


class DMUAddFree(_Variant):
    """The DMU started at (1, 1), its operands learned."""

    init_name, stackable = "add", True


class DMUSubFree(_Variant):
    """The DMU started at (1, −1), its operands learned."""

    init_name, stackable = "sub", True


class DMUAddCold(_Variant):
    """:class:`DMUAdd` with the gate at temperature 0.01."""

    init_name, frozen, temperature, stackable = "add", True, 0.01, True


class DMUSubCold(_Variant):
    """:class:`DMUSub` with the gate at temperature 0.01."""

    init_name, frozen, temperature, stackable = "sub", True, 0.01, True


for _name, _cls in (
    ("dmu_add", DMUAdd),
    ("dmu_sub", DMUSub),
    ("dmu_add_free", DMUAddFree),
    ("dmu_sub_free", DMUSubFree),
    ("dmu_add_cold", DMUAddCold),
    ("dmu_sub_cold", DMUSubCold),
):
    register(_name, _cls)
