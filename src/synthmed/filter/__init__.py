"""Filtering synthetic images by classifier confidence, realism and near-copy checks (``filtering``)."""
