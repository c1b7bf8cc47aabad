"""Conditional WGAN-GP networks (Gulrajani et al. 2017).

Same convolutional skeleton as DCGAN; the differences that matter for the Wasserstein loss with a
gradient penalty: the critic has no batchnorm (the penalty is taken per sample, and batchnorm makes
each sample's score depend on the others), layer normalisation instead as the paper suggests, and
the generator conditions by multiplying the latent by a label embedding. The critic is a
projection critic.
"""

from __future__ import annotations

from synthmed.gan.networks.dcgan import DCGANDiscriminator, DCGANGenerator


def wgan_generator(z_dim: int, num_classes: int, resolution: int, channels: int, width: int = 64,
                   max_width: int = 512, upsample: str = "transposed") -> DCGANGenerator:
    return DCGANGenerator(z_dim, num_classes, resolution, channels, width, max_width, cond_mode="multiply",
                          upsample=upsample)


def wgan_critic(num_classes: int, resolution: int, channels: int, width: int = 64,
                max_width: int = 512) -> DCGANDiscriminator:
    return DCGANDiscriminator(num_classes, resolution, channels, width, max_width, norm="layer")
