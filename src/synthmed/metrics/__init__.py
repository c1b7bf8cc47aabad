"""Quality, diversity and privacy metrics for synthetic images (one module per metric family).

``compute.compute_metrics`` runs them all; each family can also be used on its own with
precomputed feature arrays (``frechet``, ``kid``, ``prdc``, ``memorization``).
"""
