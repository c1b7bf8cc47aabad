"""StyleGAN2's own options (torch-free; the family is in ``family.py``)."""

from __future__ import annotations

from pydantic import Field

from synthmed.gan.arch_options import FamilyOptions
from synthmed.gan.archs.dcgan import NETWORK


class Options(FamilyOptions):
    """StyleGAN2 (Karras et al. 2020) as trained in StyleGAN2-ADA: lazy R1, the mapping network's depth."""

    r1_gamma: float | None = Field(None, ge=0, description="R1 weight (default 0.0002 R^2 / batch, the ADA "
                                   "heuristic).")
    r1_interval: int = Field(16, ge=1, description="Lazy regularisation: R1 every this many D steps.")
    mapping_layers: int = Field(8, ge=1, json_schema_extra=NETWORK,
                                description="Layers of the mapping network (the paper's 8).")
