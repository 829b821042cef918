"""The committed checkpoints, by absolute path (so commands work from any directory)."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
VIDEO_MODEL = ASSETS / "v4s-small"  #: the context-guided video diffusion pipeline (diffusers layout)
IDM = ASSETS / "v4s-idm"  #: the inverse-dynamics model (diffusers layout)
