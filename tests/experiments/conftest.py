"""Clips shared by the experiment tests: rendered once per session from one val house."""

from __future__ import annotations

import pytest

from v4s.experiments.gen_data import GenDataConfig, generate


@pytest.fixture(scope="session")
def val_clips(tmp_path_factory):
    """Two episodes of one val house, one window each, both tasks."""
    out = tmp_path_factory.mktemp("val_clips")
    generate(GenDataConfig(split="val", num_scenes=1, episodes_per_scene=2, windows_per_episode=1, out=str(out)),
             progress=False)
    return out
