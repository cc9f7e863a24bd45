"""The numerical core: vocabulary, config, cells, the model, optimisers, backends, reference
loops and the gradient check. Pure functions over arrays: no files, no printing."""
