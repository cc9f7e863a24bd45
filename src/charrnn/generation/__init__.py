"""Using a trained model: sampling, scoring, constraints, completions, trace, novelty, and
the views (activations, influence) the learner's page draws."""
