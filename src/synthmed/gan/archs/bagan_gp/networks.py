"""BAGAN-GP networks: a decoder that is the generator, and a critic whose trunk is the encoder.

BAGAN (Mariani et al. 2018, "BAGAN: Data Augmentation with Balancing GAN") and BAGAN-GP (Huang & Jafari 2021,
"Enhanced balancing GAN: minority-class image generation", Neural Computing and Applications) first train an
autoencoder on every class; its decoder becomes the generator and its encoder the discriminator's trunk.

- :class:`BAGANGenerator`: the decoder is the conditional WGAN-GP generator (DCGAN skeleton, latent multiplied by
  a label embedding: BAGAN-GP's *supervised* autoencoder, whose decoder also sees the label). In front of it sits
  the class-conditional latent model (``latent.py``) as buffers: ``forward(z, labels)`` maps ``z ~ N(0, I)`` to
  ``mu_c + A_c z`` and decodes that, so sampling, grids, checkpoints and ``synthmed generate`` treat it like any
  other generator. ``decode(w, labels)`` runs the decoder on an encoding (the autoencoder phase).
- :class:`BAGANCritic`: the WGAN-GP projection critic (no batchnorm: the gradient penalty is per sample) with a
  second head on the same trunk, ``encode(x)``, a linear map of the last 4x4 features to the latent.
"""

from __future__ import annotations

import torch
from torch import nn

from synthmed.gan.networks.dcgan import DCGANDiscriminator, DCGANGenerator, stage_widths


class BAGANGenerator(nn.Module):
    """z (standard normal) and label -> image in [-1, 1], through the class Gaussian of that label."""

    def __init__(self, z_dim: int = 128, num_classes: int = 0, resolution: int = 64, channels: int = 1,
                 width: int = 64, max_width: int = 512, upsample: str = "transposed") -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.resolution, self.channels = z_dim, num_classes, resolution, channels
        self.decoder = DCGANGenerator(z_dim, num_classes, resolution, channels, width, max_width,
                                      cond_mode="multiply", upsample=upsample)
        n_fit = max(1, num_classes)  # one Gaussian per class, or one for an unconditional model
        # N(0, I) per class until the latent model is fitted (end of the autoencoder phase).
        self.register_buffer("latent_mean", torch.zeros(n_fit, z_dim))
        self.register_buffer("latent_factor", torch.eye(z_dim).repeat(n_fit, 1, 1))

    def set_latent_model(self, means: torch.Tensor, factor: torch.Tensor) -> None:
        self.latent_mean.copy_(means)
        self.latent_factor.copy_(factor)

    def to_latent(self, z: torch.Tensor, labels: torch.Tensor | None, truncation_psi: float = 1.0) -> torch.Tensor:
        """``mu_c + A_c (psi z)`` (``A_c A_c^T = Sigma_c``): truncation pulls a draw towards its class mean."""
        idx = labels if self.num_classes else torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
        eps = (z * truncation_psi).to(self.latent_factor.dtype)
        return self.latent_mean[idx] + torch.einsum("nij,nj->ni", self.latent_factor[idx], eps)

    def decode(self, w: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(w, labels)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation_psi: float = 1.0,
                decode: bool = False) -> torch.Tensor:
        """An image from ``z`` ~ N(0, I) through the class Gaussian; ``decode=True``: ``z`` is an encoding
        (the autoencoder phase calls it so through DistributedDataParallel, whose forward is the only way in)."""
        if self.num_classes and labels is None:
            raise ValueError("a conditional generator needs labels")
        w = z if decode else self.to_latent(z, labels, truncation_psi)
        return self.decoder(w, labels)


class BAGANCritic(DCGANDiscriminator):
    """Projection critic ``D(x, y) -> (N,)`` and encoder ``encode(x) -> (N, z_dim)`` on one trunk."""

    def __init__(self, z_dim: int = 128, num_classes: int = 0, resolution: int = 64, channels: int = 1,
                 width: int = 64, max_width: int = 512, norm: str = "instance") -> None:
        super().__init__(num_classes, resolution, channels, width, max_width, norm=norm)
        last = stage_widths(resolution, width, max_width)[0]  # channels at 4x4
        self.to_latent = nn.Linear(last * 16, z_dim)
        nn.init.normal_(self.to_latent.weight, 0.0, 0.02)
        nn.init.zeros_(self.to_latent.bias)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.features(x).flatten(1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, encode: bool = False) -> torch.Tensor:
        """Critic scores (N,), or with ``encode=True`` the encodings (N, z_dim).

        Each mode adds 0 times the other head's parameters, so every parameter is in the graph and
        DistributedDataParallel's reducer (which expects a gradient for each) works in both phases.
        """
        if encode:
            return self.encode(x) + 0.0 * (self.out.weight.sum() + self.out.bias.sum()
                                           + (self.embed.weight.sum() if self.embed is not None else 0.0))
        logit = super().forward(x, labels)
        return logit + 0.0 * (self.to_latent.weight.sum() + self.to_latent.bias.sum())


def bagan_networks(z_dim: int, num_classes: int, resolution: int, channels: int, width: int = 64,
                   max_width: int = 512, upsample: str = "transposed",
                   critic_norm: str = "instance") -> tuple[BAGANGenerator, BAGANCritic]:
    return (BAGANGenerator(z_dim, num_classes, resolution, channels, width, max_width, upsample),
            BAGANCritic(z_dim, num_classes, resolution, channels, width, max_width, critic_norm))
