"""``synthmed info``: what a prepared dataset holds."""

from __future__ import annotations

from synthmed.dataset import PreparedDataset


def describe(ds: PreparedDataset) -> dict:
    """Classes, counts per split and class, size, channels and imbalance ratio (largest/smallest)."""
    per_split = {split: ds.class_counts(split) for split in ds.split_names}
    totals = {name: sum(counts[name] for counts in per_split.values()) for name in ds.classes}
    train = per_split.get("train") or totals
    nonzero = [n for n in train.values() if n > 0]
    imbalance = max(nonzero) / min(nonzero) if nonzero else None
    return {
        "path": str(ds.root),
        "classes": ds.classes,
        "resolution": ds.resolution,
        "channels": ds.channels,
        "bit_depth": ds.bit_depth,
        "counts": per_split,
        "totals": totals,
        "imbalance_ratio_train": imbalance,
        "source": ds.meta.get("source", {}),
        "content_hash": ds.content_hash,
        "skipped": len(ds.meta.get("skipped", [])),
        "masks": ds.num_masks,
        "conversions": ds.meta.get("conversions", {}),
        "split": ds.meta.get("split", {}),
    }


def render_table(summary: dict) -> str:
    classes = summary["classes"]
    width = max(10, *(len(c) for c in classes)) + 2
    lines = [
        f"dataset   {summary['path']}",
        f"images    {summary['resolution']}x{summary['resolution']}, {summary['channels']} channel(s), "
        f"{summary['bit_depth']}-bit",
        f"classes   {', '.join(f'{i}={c}' for i, c in enumerate(classes))}",
        "",
        "split   " + "".join(f"{c:>{width}}" for c in classes) + f"{'total':>{width}}",
    ]
    for split, counts in summary["counts"].items():
        row = "".join(f"{counts[c]:>{width}}" for c in classes)
        lines.append(f"{split:<8}{row}{sum(counts.values()):>{width}}")
    ratio = summary["imbalance_ratio_train"]
    lines.append("")
    lines.append(f"imbalance ratio (train, largest/smallest class): {ratio:.2f}" if ratio else "imbalance ratio: n/a")
    if summary.get("split"):
        split = summary["split"]
        extra = f", ratios {split['ratios']}, seed {split['seed']}" if "ratios" in split else ""
        lines.append(f"split: {split['method']}{extra}")
    changed = {k: v for k, v in summary.get("conversions", {}).items() if k not in ("images", "source_shapes")}
    if summary.get("conversions"):
        shapes = summary["conversions"].get("source_shapes", {})
        lines.append("conversions: " + (", ".join(f"{k} {v}" for k, v in changed.items()) or "none")
                     + f" (of {summary['conversions'].get('images', 0)} images; source shapes HxWxC: "
                     + ", ".join(f"{k} ({v})" for k, v in shapes.items()) + ")")
    if summary.get("masks"):
        lines.append(f"masks: {summary['masks']} (stored beside their images; 'mask' in dataset.json entries)")
    if summary["skipped"]:
        lines.append(f"skipped files: {summary['skipped']} (listed in dataset.json and skipped.csv)")
    return "\n".join(lines)
