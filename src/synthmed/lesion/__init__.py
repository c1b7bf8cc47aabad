"""Lesion masks, injection and lesion metrics."""
