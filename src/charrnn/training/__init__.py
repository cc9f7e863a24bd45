"""Training: the trainer (one step and its state), one run (checks, run directory, resume,
validation, budgets), the checkpoint format, held-out loss, presets, MPI ranks and the
pretrained models."""
