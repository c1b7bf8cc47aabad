"""BAGAN-GP's autoencoder phase and latent-model fit.

Written from BAGAN (Mariani, Scheidegger, Istrate, Bekas & Malossi 2018, "BAGAN: Data Augmentation with Balancing
GAN", arXiv:1803.09655) and BAGAN-GP (Huang & Jafari 2021, "Enhanced balancing GAN: minority-class image
generation", Neural Computing and Applications, doi:10.1007/s00521-021-06163-8):

1. **Autoencoder phase.** Encoder = the critic's trunk plus a linear head (``BAGANCritic.encode``), decoder = the
   generator (``BAGANGenerator.decode``). BAGAN-GP's autoencoder is *supervised*: the decoder also gets the label
   (the latent is multiplied by a label embedding), which spreads the classes' latents apart where BAGAN's did
   not for similar-looking classes (cells, flowers). Trained on every class with the mean absolute error
   (BAGAN-GP's reconstruction loss) and Adam(2e-4, 0.5, 0.9), BAGAN-GP's settings.
2. **Latent model** (``latent.py``): encode every training image, fit one Gaussian per class (full covariance,
   Ledoit-Wolf shrinkage), and store it in the generator, which then maps N(0, I) to each class's Gaussian.
3. **Adversarial phase**: the generator starts from the decoder and the critic from the encoder's trunk; a
   Wasserstein loss with gradient penalty and a conditional (projection) critic, as WGAN-GP; fake labels are drawn
   uniformly over the classes (BAGAN's balanced fake batches), so rare classes get as many generator updates as
   common ones.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from synthmed.gan.archs.bagan_gp.latent import ClassGaussians, class_gaussians
from synthmed.gan.data import to_model_range

AE_EPOCHS = 30  # BAGAN-GP trains its autoencoder for 30 epochs before the adversarial phase


def reconstruction_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per pixel (BAGAN-GP's autoencoder loss)."""
    return (reconstructed.float() - real.float()).abs().mean()


def reconstruct(G: nn.Module, D: nn.Module, real: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """decoder(encoder(x), y); ``G`` and ``D`` may be DistributedDataParallel wrappers (their forward is used)."""
    return G(D(real, None, encode=True), labels, decode=True)


@torch.no_grad()
def encode_images(D: nn.Module, images_uint8: torch.Tensor, device: torch.device, batch: int = 256) -> np.ndarray:
    """Encodings (N, z_dim) of uint8 images; the critic has no batchnorm, so train/eval mode gives the same."""
    codes = []
    for start in range(0, len(images_uint8), batch):
        x = to_model_range(images_uint8[start:start + batch]).to(device)
        codes.append(D.encode(x).double().cpu())
    return torch.cat(codes).numpy()


def fit_latent_model(G: nn.Module, D: nn.Module, images_uint8: torch.Tensor, labels: torch.Tensor,
                     device: torch.device) -> ClassGaussians:
    """Encode the training images, fit the class Gaussians and store them in ``G`` (a ``BAGANGenerator``)."""
    codes = encode_images(D, images_uint8, device)
    model = class_gaussians(codes, labels.cpu().numpy(), G.num_classes)
    G.set_latent_model(torch.from_numpy(model.means).float(), torch.from_numpy(model.factors()).float())
    return model


def uniform_labels(n: int, num_classes: int, device: torch.device) -> torch.Tensor | None:
    """Labels of a balanced fake batch (BAGAN); ``None`` for an unconditional model."""
    if not num_classes:
        return None
    return torch.randint(0, num_classes, (n,), device=device)


def latent_summary(model: ClassGaussians, classes: list[str]) -> dict[str, dict[str, float]]:
    """Per class: images used, shrinkage intensity, mean latent norm (for the log)."""
    names = classes if len(classes) == len(model.counts) else ["all"]
    return {name: {"n": int(model.counts[c]), "shrinkage": round(float(model.shrinkage[c]), 4),
                   "mean_norm": round(float(np.linalg.norm(model.means[c])), 4)} for c, name in enumerate(names)}
