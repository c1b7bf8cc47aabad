"""Lesion masks, injection and lesion metrics (issue 18)."""
