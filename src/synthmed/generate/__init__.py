"""Generation: sample a trained GAN into a prepared dataset (split ``train``) with per-image provenance."""
