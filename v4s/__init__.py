"""v4s: Video4Spatial-style agents in closed loop inside Habitat scenes."""

__version__ = "0.1.0"
