"""Models that leave charrnn: ONNX graphs, PyTorch state dicts and safetensors files.

``charrnn export RUN --to onnx|torch|safetensors OUT`` and :func:`export_model` write
them; ``docs/export.md`` shows each one used outside charrnn. The core stays
numpy-only: ONNX needs the ``export`` extra (``onnx``), PyTorch needs ``torch``, and
safetensors files are written by hand with neither.
"""

from __future__ import annotations

from .write import FORMATS, export_files, export_model, scorer_path

__all__ = ["FORMATS", "export_files", "export_model", "scorer_path"]
