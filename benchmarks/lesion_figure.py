"""Documentation figure of lesion injection: columns of (background | mask | injected) from an injected dataset.

    python benchmarks/lesion_figure.py INJECTED BACKGROUNDS[:split] docs/inject-grid-ph2.png --n 6

``INJECTED`` is ``synthmed inject``'s output; each entry names its background (``name:split:file``), which is
looked up in ``BACKGROUNDS``. The mask is drawn white on black.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from synthmed.dataset import PreparedDataset
from synthmed.gan.runlog import save_png, tile


def columns(injected: PreparedDataset, backgrounds: PreparedDataset, split: str, n: int) -> torch.Tensor:
    by_id = {e.get("source_file") or e["path"]: e for e in backgrounds.entries(split)}
    rows = []
    for e in injected.entries("train")[:n]:
        bg = backgrounds.load_image(by_id[e["background"].split(":", 2)[2]])
        mask = np.repeat(injected.load_mask(e)[:, :, None] * 255, bg.shape[2], axis=2).astype(np.uint8)
        rows.append([bg, mask, injected.load_image(e)])
    # one column per image: background on top, then the mask, then the injected image (tile fills rows)
    stack = [r[k] for k in range(3) for r in rows]
    return torch.from_numpy(np.stack(stack)).permute(0, 3, 1, 2).float() / 127.5 - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("injected")
    parser.add_argument("backgrounds")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=6)
    args = parser.parse_args()
    injected = PreparedDataset.open(args.injected)
    backgrounds, split = PreparedDataset.open_spec(args.backgrounds, "train")
    from pathlib import Path

    save_png(tile(columns(injected, backgrounds, split, args.n), args.n), Path(args.out))


if __name__ == "__main__":
    main()
