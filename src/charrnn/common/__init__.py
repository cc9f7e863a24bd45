"""The bottom layer: the project's exception type, its version, and helpers every layer uses."""
