"""Statistics: does a configuration beat the real-only baseline? DeLong, bootstrap, McNemar, Wilcoxon, Holm."""
