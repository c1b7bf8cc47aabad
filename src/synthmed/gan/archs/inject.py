"""Lesion injection (after SQ-AGGAN): a masked inpainting generator trained to reconstruct real lesions.

Training batch: a real image with its lesion mask; the generator sees the image with the lesion blanked, the mask,
the class and the lesion's features (area, mean intensity) and must fill the hole (``networks/pix2pix.py``
``InpaintGenerator``; its output is composited, so outside the mask it is the real image exactly). Losses
(``image2image.py``): non-saturating adversarial terms from a global PatchGAN on the whole image and a local one on
a crop around the lesion, SQ-AGGAN's reconstruction loss on the real lesion (L1 per lesion pixel, weight 100 like
pix2pix's L1) and the feature loss on the lesion's mean intensity (weight 10). The background term of SQ-AGGAN is
zero by construction. At ``synthmed inject`` time the same generator fills a new mask in a new background.

G keeps the real lesions' mean intensity per class (mean, std; a buffer filled before training), so injection can
draw a realistic intensity when none is requested.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from synthmed.gan import image2image as i2i
from synthmed.gan import losses
from synthmed.gan.arch import Batch, Objective, Term
from synthmed.gan.archs import register
from synthmed.gan.archs.pix2pix import MaskFamily
from synthmed.gan.data import TrainImages, to_model_range
from synthmed.gan.image2image import lesion_features, masked_mean
from synthmed.gan.networks.pix2pix import InjectDiscriminator, InpaintGenerator, inpaint_condition

RECONSTRUCTION_WEIGHT = 100.0
FEATURE_WEIGHT = 10.0
N_FEATURES = 2  # lesion area, mean intensity (image2image.lesion_features)


class InjectObjective(Objective):
    def before_training(self, data: TrainImages, batches) -> None:
        """Store the real lesions' mean intensity per class in G (mean, std, in [0, 1])."""
        x = to_model_range(data.images).float()
        inten = (masked_mean(x, data.extra["masks"].float()) + 1) / 2
        stats = self.kit.G.intensity_stats
        for c in range(stats.shape[0]):
            values = inten[data.labels.cpu() == c] if self.kit.G.num_classes else inten
            if len(values):
                stats[c, 0], stats[c, 1] = values.mean(), values.std(unbiased=False)

    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        k = self.kit
        with torch.no_grad(), k.autocast():
            fake = k.G_fwd(batch.cond).float()

        def real(part: str):
            def run() -> torch.Tensor:
                with k.autocast():
                    logits = k.D_train(batch.real, batch.cond, part=part).float()
                if part == "global":
                    k.observe_real(logits)
                return losses.d_logistic_real(logits)
            return run

        def fake_pass(part: str):
            def run() -> torch.Tensor:
                with k.autocast():
                    logits = k.D_train(fake, batch.cond, part=part).float()
                return losses.d_logistic_fake(logits)
            return run

        return [Term("real", real("global")), Term("fake", fake_pass("global")),
                Term("real_local", real("local")), Term("fake_local", fake_pass("local"))]

    def g_terms(self, batch: Batch) -> list[Term]:
        k = self.kit
        c = batch.real.shape[1]
        mask, target = batch.cond[:, c:c + 1], batch.cond[:, c + 3, 0, 0]  # planes: image, mask, class, area, intensity

        def generator() -> dict[str, torch.Tensor]:
            with k.autocast():
                fake = k.G_train(batch.cond)
                adv = losses.g_nonsaturating(k.D(fake, batch.cond).float()) + \
                    losses.g_nonsaturating(k.D(fake, batch.cond, part="local").float())
            fake = fake.float()
            rec = i2i.reconstruction_loss(fake, batch.real, mask)
            feat = i2i.feature_loss(fake, mask, target)
            return {"loss": adv + RECONSTRUCTION_WEIGHT * rec + FEATURE_WEIGHT * feat, "reconstruction": rec,
                    "feature": feat}

        return [Term("generator", generator)]


class Inject(MaskFamily):
    name = "inject"
    condition = "mask-in-image"
    summary = "lesion injection: masked inpainting U-Net, global + local PatchGAN, reconstruction loss (needs masks)"
    objective = InjectObjective

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        width, max_width = int(kw.get("width", 64)), int(kw.get("max_width", 512))
        G = InpaintGenerator(num_classes, resolution, channels, N_FEATURES, width, max_width,
                             float(kw.get("dropout", 0.5)))
        G.register_buffer("intensity_stats", torch.zeros(max(num_classes, 1), 2))
        return G, InjectDiscriminator(num_classes, channels, resolution, width, max_width)

    def batch(self, data: TrainImages, idx: torch.Tensor, device: torch.device,
              memory_format: torch.memory_format) -> Batch:
        real = to_model_range(data.images[idx]).to(device).contiguous(memory_format=memory_format)
        mask = self.masks(data, idx, device)
        cond = inpaint_condition(real, mask, data.labels[idx].to(device), lesion_features(real, mask))
        return Batch(real, cond)

    def grid_rows(self, batch: Batch, fake: torch.Tensor) -> list[torch.Tensor]:
        """Rows: the input (lesion blanked) | mask | reconstruction | real."""
        c = batch.real.shape[1]
        mask = batch.cond[:, c:c + 1]
        hole = torch.where(mask > 0.5, torch.zeros_like(batch.real), batch.real)
        return [hole, (mask * 2 - 1).expand_as(batch.real), fake, batch.real]


register(Inject())
