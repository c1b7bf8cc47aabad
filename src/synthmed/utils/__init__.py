"""Small helpers shared by every stage (atomic file output, seeding, run folders, hashing)."""
