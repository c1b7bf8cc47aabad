"""Image-to-image networks of pix2pix (Isola et al., "Image-to-Image Translation with Conditional Adversarial
Networks", CVPR 2017) and the masked inpainting generator used for lesion injection (after SQ-AGGAN).

* :class:`UNetGenerator`: the paper's U-Net (appendix 6.1.1): 4x4 stride-2 convolutions down to 1x1
  (C64-C128-C256-C512-...), LeakyReLU 0.2 in the encoder, ReLU in the decoder, skip connections between mirrored
  layers, dropout 0.5 in the three innermost decoder blocks (the paper's only noise source, on at test time too),
  tanh output. Its depth follows the resolution (log2 R downsamplings), so 64 and 128 px both reach 1x1.
  Normalisation is per instance (the paper trains with batch size 1, where batchnorm *is* instance norm; it also
  keeps generation independent of the batch); the 1x1 bottleneck has none.
* :class:`PatchDiscriminator`: the paper's PatchGAN (C64-C128-C256-C512, 4x4 convolutions, strides 2,2,2,1, one
  logit per patch). ``n_layers=3`` has the 70x70 receptive field that suits 256 px; :func:`patch_layers_for` scales
  it with the image (128 px: 34x34, 64 px: 16x16, about a quarter of the side as in the paper).
* :class:`InpaintGenerator`: a U-Net that sees the masked image, the mask, the class and optional lesion features
  (SQ-AGGAN's controllable features, as constant planes) and whose output is *composited*: pixels outside the mask
  are the input's exactly (``torch.where``, not a blend), so the background cannot change.

Every network takes one condition tensor, *packed* (:func:`pack_condition`): the mask (N, 1, R, R) in {0, 1} and
the class index as a constant plane; the injection networks put the background image in front and the lesion
features behind (:func:`inpaint_condition`). Each network unpacks it into the planes it sees (one-hot class planes
when it is conditional, none when not), so a training batch, a grid and the fidelity metric hand every family's
networks one tensor, as the GAN interface (``gan/arch.py``) expects.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from synthmed.errors import SynthmedError


def pack_condition(mask: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """(N, 2, R, R): the mask and the class index as a constant plane (0 without labels)."""
    lab = torch.zeros(mask.shape[0], device=mask.device) if labels is None else labels.to(mask.device)
    return torch.cat([mask, lab.to(mask.dtype)[:, None, None, None].expand_as(mask)], dim=1)


def condition_planes(mask: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """The mask (N, 1, R, R) with one plane per class (1 on the image's class, else 0) appended."""
    if num_classes == 0 or labels is None:
        return mask
    onehot = F.one_hot(labels.long(), num_classes).to(mask.dtype)
    return torch.cat([mask, onehot[:, :, None, None].expand(-1, -1, *mask.shape[-2:])], dim=1)


def unpack_planes(packed: torch.Tensor, num_classes: int) -> torch.Tensor:
    """A packed (mask, class) pair -> the mask and one-hot class planes (just the mask when unconditional)."""
    return condition_planes(packed[:, :1], packed[:, 1, 0, 0].round().long(), num_classes)


def _widths(depth: int, width: int, max_width: int) -> list[int]:
    return [min(width * 2**i, max_width) for i in range(depth)]


class UNet(nn.Module):
    """The pix2pix U-Net body: ``in_channels`` planes -> ``out_channels`` planes in [-1, 1] at the same size."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, width: int = 64, max_width: int = 512,
                 dropout: float = 0.5) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise SynthmedError(f"the U-Net needs a power-of-two resolution of at least 8, got {resolution}")
        self.depth = int(math.log2(resolution))
        self.dropout = dropout
        widths = _widths(self.depth, width, max_width)
        self.down = nn.ModuleList()
        c_in = in_channels
        for i, c in enumerate(widths):
            outermost, innermost = i == 0, i == self.depth - 1
            layers: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=outermost or innermost))
            if not (outermost or innermost):
                layers.append(nn.InstanceNorm2d(c, affine=True))
            self.down.append(nn.Sequential(*layers))
            c_in = c
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):
            c_out = out_channels if i == 0 else widths[i - 1]
            c_in = widths[i] if i == self.depth - 1 else 2 * widths[i]  # skip connection doubles the input
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=i == 0)]
            layers.append(nn.Tanh() if i == 0 else nn.InstanceNorm2d(c_out, affine=True))
            self.up.append(nn.Sequential(*layers))
        # The paper's dropout sits in the three decoder blocks nearest the bottleneck (of 7 at 256 px).
        self.n_dropout = min(3, self.depth - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for j, block in enumerate(self.up):
            if j > 0:
                x = torch.cat([x, skips.pop()], dim=1)
            x = block(x)
            if j < self.n_dropout and self.dropout > 0:
                # On in eval mode as well: the paper's generator keeps dropout at test time as its noise.
                x = F.dropout(x, self.dropout, training=True)
        return x


class UNetGenerator(nn.Module):
    """pix2pix generator: ``G(cond) -> (N, C, R, R)`` in [-1, 1], ``cond`` = :func:`pack_condition` (mask, class).

    No latent input: as in the paper, dropout is the only noise (a latent was ignored by their generator).
    """

    def __init__(self, num_classes: int, resolution: int, channels: int, width: int = 64, max_width: int = 512,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes, self.resolution, self.channels = num_classes, resolution, channels
        self.net = UNet(1 + num_classes, channels, resolution, width, max_width, dropout)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.net(unpack_planes(cond, self.num_classes))


def composite(generated: torch.Tensor, background: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``generated`` inside the mask, ``background`` outside, selected (not blended): outside pixels are bit-exact."""
    return torch.where(mask > 0.5, generated, background)


def inpaint_condition(background: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None,
                      features: torch.Tensor | None = None) -> torch.Tensor:
    """The injection networks' packed condition: the background, the packed (mask, class) and one constant plane
    per lesion feature."""
    planes = [background, pack_condition(mask.to(background.dtype), labels)]
    if features is not None and features.shape[1]:
        planes.append(features.to(background.dtype)[:, :, None, None].expand(-1, -1, *background.shape[-2:]))
    return torch.cat(planes, dim=1)


class InpaintGenerator(nn.Module):
    """Lesion injection: ``G(cond) -> composite image``, ``cond`` = :func:`inpaint_condition`.

    The network sees the background with the mask region blanked (0, mid-grey in [-1, 1]: it never sees what was
    there), the mask, the class planes and the lesion features (SQ-AGGAN's controllable features; here area and
    mean intensity, scaled to about [-1, 1]) as constant planes. The output is the network's image inside the
    mask and the background outside it, selected exactly.
    """

    def __init__(self, num_classes: int, resolution: int, channels: int, n_features: int = 0, width: int = 64,
                 max_width: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes, self.resolution, self.channels = num_classes, resolution, channels
        self.n_features = n_features
        self.net = UNet(channels + 1 + num_classes + n_features, channels, resolution, width, max_width, dropout)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        c = self.channels
        if cond.shape[1] != c + 2 + self.n_features:
            raise SynthmedError(f"the injection generator takes an image, a mask, a class and {self.n_features} "
                                f"lesion feature(s): {c + 2 + self.n_features} planes, got {cond.shape[1]}")
        background, mask = cond[:, :c], cond[:, c:c + 1]
        planes = [torch.where(mask > 0.5, torch.zeros_like(background), background),
                  unpack_planes(cond[:, c:c + 2], self.num_classes), cond[:, c + 2:]]
        return composite(self.net(torch.cat(planes, dim=1)), background, mask)


def patch_layers_for(resolution: int) -> int:
    """PatchGAN depth whose receptive field is about the paper's 70/256 of the image side (at least 1 layer)."""
    return max(1, int(math.log2(resolution)) - 5)


def patch_receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of :class:`PatchDiscriminator` with ``n_layers`` (3 -> 70, as in the paper)."""
    rf = 1
    # Walk back from the output: the final 4x4 stride-1 conv, the stride-1 4x4 conv, then n_layers stride-2 ones.
    for stride in [1, 1] + [2] * n_layers:
        rf = (rf - 1) * stride + 4
    return rf


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``D(condition_planes, image) -> (N, 1, h, w)`` logits, one per overlapping patch.

    ``in_channels`` counts the condition planes and the image together (pix2pix's D sees the input and the output
    side by side). No normalisation on the first layer; instance norm elsewhere (batch-size-independent).
    """

    def __init__(self, in_channels: int, width: int = 64, max_width: int = 512, n_layers: int = 3) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.receptive_field = patch_receptive_field(n_layers)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, n_layers + 1):
            c_out = min(width * 2**i, max_width)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, c_out, 4, stride, 1, bias=False), nn.InstanceNorm2d(c_out, affine=True),
                       nn.LeakyReLU(0.2)]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, image], dim=1))


class MaskedPatchDiscriminator(nn.Module):
    """pix2pix's conditional D for mask-to-image: ``D(image, cond) -> (N, 1, h, w)`` patch logits, ``cond`` =
    :func:`pack_condition` (D sees the mask and class planes beside the image, as in the paper)."""

    def __init__(self, num_classes: int, channels: int, resolution: int, width: int = 64, max_width: int = 512,
                 n_layers: int | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.patch = PatchDiscriminator(1 + num_classes + channels, width, max_width,
                                        n_layers if n_layers is not None else patch_layers_for(resolution))

    def forward(self, image: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.patch(unpack_planes(cond, self.num_classes), image)


class InjectDiscriminator(nn.Module):
    """A global and a local PatchGAN for injection: ``D(image, cond, part="global"|"local")``.

    ``cond`` is the generator's input (:func:`inpaint_condition`); both parts see the image with the mask and
    class planes (not the background planes: outside the mask a composite equals them). The local part judges a
    square crop around the lesion (:func:`lesion_boxes`) resampled to ``local_size`` pixels; its patches span about
    half the crop (the depth :func:`patch_layers_for` gives an image twice its size), so it judges the lesion's
    overall look and border, while the global part judges texture and context at the usual quarter of the image.
    """

    def __init__(self, num_classes: int, channels: int, resolution: int, width: int = 64, max_width: int = 512,
                 local_size: int | None = None) -> None:
        super().__init__()
        self.channels, self.num_classes = channels, num_classes
        self.local_size = local_size or max(32, resolution // 2)
        n_in = 1 + num_classes + channels
        self.global_d = PatchDiscriminator(n_in, width, max_width, patch_layers_for(resolution))
        self.local_d = PatchDiscriminator(n_in, width, max_width, patch_layers_for(self.local_size * 2))

    def forward(self, image: torch.Tensor, cond: torch.Tensor, part: str = "global") -> torch.Tensor:
        c = self.channels
        planes = unpack_planes(cond[:, c:c + 2], self.num_classes)  # mask + class planes
        if part == "global":
            return self.global_d(planes, image)
        mask = planes[:, :1]
        boxes = lesion_boxes(mask)
        crops = crop_boxes(torch.cat([planes, image], dim=1), boxes, self.local_size)
        k = planes.shape[1]
        return self.local_d(crops[:, :k], crops[:, k:])


def lesion_boxes(mask: torch.Tensor, margin: float = 0.25, min_size: int = 8) -> torch.Tensor:
    """Square boxes (N, 4) as x1, y1, x2, y2 around each mask's lesion, enlarged by ``margin`` of its side.

    The local discriminator judges these crops (resampled to a fixed size), so it sees the lesion and its border
    at the lesion's own scale. An empty mask gives the whole image.
    """
    n, _, h, w = mask.shape
    boxes = torch.zeros(n, 4, dtype=torch.float32, device=mask.device)
    for i in range(n):
        ys, xs = torch.nonzero(mask[i, 0] > 0.5, as_tuple=True)
        if len(ys) == 0:
            boxes[i] = torch.tensor([0, 0, w, h], dtype=torch.float32)
            continue
        cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
        side = max(float(ys.max() - ys.min() + 1), float(xs.max() - xs.min() + 1), float(min_size)) * (1 + margin)
        side = min(side, float(min(h, w)))
        x1 = min(max(float(cx) - side / 2, 0.0), w - side)
        y1 = min(max(float(cy) - side / 2, 0.0), h - side)
        boxes[i] = torch.tensor([x1, y1, x1 + side, y1 + side])
    return boxes


def crop_boxes(x: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable crops of ``x`` at ``boxes`` resampled to ``size`` x ``size`` (torchvision's roi_align; its
    adaptive sampling averages ceil(side / size) samples per output pixel, so shrinking a large lesion anti-aliases
    and a crop at its own size is the pixels themselves)."""
    rois = torch.cat([torch.arange(len(boxes), device=x.device, dtype=x.dtype)[:, None], boxes.to(x.dtype)], dim=1)
    return roi_align(x, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
