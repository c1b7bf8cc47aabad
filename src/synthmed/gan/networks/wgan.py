"""Conditional WGAN-GP networks (Gulrajani et al. 2017).

Same convolutional skeleton as DCGAN; the differences that matter for the Wasserstein loss with a
gradient penalty: the critic has no batchnorm (the penalty is taken per sample, and batchnorm makes
each sample's score depend on the others), and the generator conditions by multiplying the latent
by a label embedding. The critic is a projection critic.

The critic's normalisation: ``norm="instance"`` (new runs' default: each channel of each sample,
GroupNorm with one group per channel), ``"layer"`` (the paper's suggestion, and what runs from before
the option had) or ``"none"``. Why not the paper's: layer normalisation centres a sample's features as
a whole, not per channel, so a channel can sit above or below zero for every input. On BreastMNIST the
trained layer-norm critic became almost linear in the image (its input gradients at different real
images had cosine 0.996, and the gradient penalty was met exactly): a critic that compares only one
projection of the mean image, which the generator matches at once, so the real-fake gap stays near 0
while the samples stay blurred. Centring every channel per sample keeps both sides of each LeakyReLU
in use (cosine 0.44 at the end of the 64 px run of docs/studies/gan-architectures.md).
"""

from __future__ import annotations

from synthmed.gan.networks.dcgan import DCGANDiscriminator, DCGANGenerator


def wgan_generator(z_dim: int, num_classes: int, resolution: int, channels: int, width: int = 64,
                   max_width: int = 512, upsample: str = "transposed") -> DCGANGenerator:
    return DCGANGenerator(z_dim, num_classes, resolution, channels, width, max_width, cond_mode="multiply",
                          upsample=upsample)


def wgan_critic(num_classes: int, resolution: int, channels: int, width: int = 64,
                max_width: int = 512, norm: str = "layer") -> DCGANDiscriminator:
    return DCGANDiscriminator(num_classes, resolution, channels, width, max_width, norm=norm)
