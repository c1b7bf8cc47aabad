"""pix2pix (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017) for
mask (+ class) -> image on a prepared dataset with masks.

U-Net generator and PatchGAN discriminator (``networks/pix2pix.py``), conditional GAN loss with D's objective
halved plus lambda * L1 with the paper's lambda = 100 (``image2image.py``), Adam 2e-4 with beta1 0.5. The batch's
``cond`` is the packed (mask, class) tensor that both networks take; ``real`` is the paired image. The grid shows
fixed training masks in rows: mask | generated | real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.arch import Arch, Batch, Objective, Term
from synthmed.gan.archs import register
from synthmed.gan.data import TrainImages, load_train_images, to_model_range
from synthmed.gan.image2image import pix2pix_d_fake, pix2pix_d_real, pix2pix_g_loss
from synthmed.gan.networks.pix2pix import MaskedPatchDiscriminator, UNetGenerator, pack_condition
from synthmed.gan.runlog import tile

if TYPE_CHECKING:
    from synthmed.dataset import PreparedDataset
    from synthmed.gan.options import TrainConfig


class Pix2PixObjective(Objective):
    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        k = self.kit
        with torch.no_grad(), k.autocast():
            fake = k.G_fwd(batch.cond).float()

        def real() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(batch.real, batch.cond).float()
            k.observe_real(logits)
            return pix2pix_d_real(logits)

        def fake_pass() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(fake, batch.cond).float()
            return pix2pix_d_fake(logits)

        return [Term("real", real), Term("fake", fake_pass)]

    def g_terms(self, batch: Batch) -> list[Term]:
        k = self.kit

        def generator() -> dict[str, torch.Tensor]:
            with k.autocast():
                fake = k.G_train(batch.cond)
                logits = k.D(fake, batch.cond).float()  # plain D: no DDP sync for D in the G step
            loss, l1 = pix2pix_g_loss(logits, fake.float(), batch.real)
            return {"loss": loss, "l1": l1}

        return [Term("generator", generator)]


class MaskFamily(Arch):
    """What pix2pix and injection share: masks in the training data, power-of-two U-Nets, no D augmentation
    (D judges an image together with its mask; moving the image alone would tear them apart)."""

    defaults: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "z_dim": 0,
                                          "width": 64, "max_width": 512}

    def check_resolution(self, resolution: int) -> None:
        if resolution < 32 or resolution > 512 or resolution & (resolution - 1):
            raise SynthmedError(f"{self.name}: the U-Net needs a power-of-two resolution in 32..512, got "
                                f"{resolution}")

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        if given.aug != "none":
            raise SynthmedError(f"--aug {given.aug}: {self.name} trains without D augmentation (its D judges an "
                                f"image with its mask, which augmenting the image alone would misalign)")
        out.z_dim = 0  # no latent: dropout is the generator's noise

    def net_kwargs(self, cfg: TrainConfig) -> dict[str, Any]:
        return {"z_dim": 0, **self.network_options(cfg), "width": cfg.width, "max_width": cfg.max_width}

    def load_data(self, ds: PreparedDataset, resolution: int) -> TrainImages:
        if not ds.has_masks("train"):
            raise SynthmedError(f"{ds.root}: {self.name} needs a mask for every training image (prepare the data "
                                "with NAME_mask.png files beside the images or a CSV 'mask' column)")
        data = load_train_images(ds, resolution)
        masks = torch.from_numpy(ds.load_masks("train"))[:, None].to(torch.uint8)
        if masks.shape[-1] != resolution:
            masks = F.interpolate(masks.float(), size=(resolution, resolution), mode="nearest").to(torch.uint8)
        data.extra["masks"] = masks
        return data

    def masks(self, data: TrainImages, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
        return data.extra["masks"][idx].to(device).float()

    def batch(self, data: TrainImages, idx: torch.Tensor, device: torch.device,
              memory_format: torch.memory_format) -> Batch:
        real = to_model_range(data.images[idx]).to(device).contiguous(memory_format=memory_format)
        return Batch(real, pack_condition(self.masks(data, idx, device), data.labels[idx].to(device)))

    def grid_indices(self, data: TrainImages, cols: int) -> torch.Tensor:
        """``cols`` fixed training images, taking the classes in turn (the first images of each)."""
        per_class = [torch.nonzero(data.labels.cpu() == c)[:, 0].tolist() for c in range(int(data.labels.max()) + 1)]
        picked: list[int] = []
        for i in range(len(data)):
            for rows in per_class:
                if i < len(rows) and len(picked) < cols:
                    picked.append(rows[i])
        return torch.tensor(picked)

    @torch.no_grad()
    def generate(self, G: nn.Module, batch: Batch, seed: int) -> torch.Tensor:
        """G's images for a batch with dropout drawn from ``seed`` (the global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[batch.real.device] if batch.real.device.type == "cuda" else []):
            torch.manual_seed(seed)
            return G(batch.cond).float().clamp(-1, 1)

    def grid(self, G: nn.Module, data: TrainImages, cfg: TrainConfig, num_classes: int,
             device: torch.device) -> np.ndarray:
        idx = self.grid_indices(data, cfg.grid_cols)
        batch = self.batch(data, idx, device, torch.contiguous_format)
        rows = self.grid_rows(batch, self.generate(G, batch, cfg.grid_seed))
        return tile(torch.cat([r.cpu() for r in rows]), len(idx))

    def grid_rows(self, batch: Batch, fake: torch.Tensor) -> list[torch.Tensor]:
        mask = batch.cond[:, :1] * 2 - 1
        return [mask.expand_as(batch.real), fake, batch.real]

    def sample(self, G: nn.Module, data: TrainImages, idx: torch.Tensor, z_dim: int, seed: int,
               batch: int = 128) -> torch.Tensor:
        device = next(G.parameters()).device
        out = [self.generate(G, self.batch(data, idx[i:i + batch], device, torch.contiguous_format), seed + i).cpu()
               for i in range(0, len(idx), batch)]
        return torch.cat(out)

    def check_generates(self, meta: dict[str, Any]) -> None:
        # image-to-image: no latent to sample from
        how = "add --masks DATASET[:split]" if self.condition == "mask" else "use synthmed inject"
        raise SynthmedError(f"{meta['checkpoint_path']}: a {self.name} run makes images from masks: {how}")


class Pix2Pix(MaskFamily):
    name = "pix2pix"
    condition = "mask"
    summary = "pix2pix: mask (+ class) -> image, U-Net + PatchGAN + L1 (needs masks)"
    objective = Pix2PixObjective

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        width, max_width = int(kw.get("width", 64)), int(kw.get("max_width", 512))
        return (UNetGenerator(num_classes, resolution, channels, width, max_width, float(kw.get("dropout", 0.5))),
                MaskedPatchDiscriminator(num_classes, channels, resolution, width, max_width))


register(Pix2Pix())
