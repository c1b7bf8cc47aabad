"""DCGAN's own options (torch-free; the family is in ``family.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthmed.gan.arch_options import FamilyOptions

NETWORK = {"network": True}  # stored in checkpoints' network options: load_generator rebuilds the same networks


class Options(FamilyOptions):
    """The DCGAN convolutional skeleton's options (WGAN-GP and BAGAN-GP build on the same skeleton)."""

    upsample: Literal["transposed", "resize"] = Field(
        "transposed", json_schema_extra=NETWORK,
        description="Generator upsampling: transposed (4x4 stride-2 convolutions, the paper's) or resize (nearest "
                    "+ 3x3 convolution, no checkerboard).")
