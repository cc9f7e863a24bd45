"""Experiments: the tutorial's naive-vs-BPTT experiment, the gap grid, and the demo."""
