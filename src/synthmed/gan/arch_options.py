"""The base of a generator family's own options, kept free of torch so that ``--help`` and config checks stay fast.

A family with options of its own (WGAN-GP's critic steps, StyleGAN2's R1 schedule, a diffusion model's noise
schedule) is a package ``synthmed/gan/archs/<name>/`` whose ``__init__.py`` declares ``class Options(FamilyOptions)``
with pydantic only; its ``family.py`` holds the networks and losses. Each field is declared there once and becomes
a ``train-gan`` option (``--n-critic``), a key of the pipeline's ``generator.options`` and a keyword of
:class:`synthmed.gan.options.TrainConfig`, so adding a family edits no shared model. A field whose default is
``None`` is filled by the family's ``Arch.resolve`` (a default that depends on other options).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FamilyOptions(BaseModel):
    """A family's own options: no unknown keys; the base has none (a family without options of its own)."""

    model_config = ConfigDict(extra="forbid")
