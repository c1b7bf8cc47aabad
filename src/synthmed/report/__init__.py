"""The report of a run: one self-contained HTML file and results.json with every number in it."""
