"""Shared fixtures: a private scene cache, simulator backends, and hand-made scenes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from v4s.envs.sim import BACKENDS, SimConfig, habitat_available, make_sim  # noqa: E402

#: a val-split house every contract test can share
HOUSE_ID = "house-100000"


@pytest.fixture(scope="session", autouse=True)
def scene_cache(tmp_path_factory):
    """Generated houses go to a per-session cache, never the user's ~/.cache."""
    path = tmp_path_factory.mktemp("v4s_cache")
    old = os.environ.get("V4S_CACHE")
    os.environ["V4S_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("V4S_CACHE", None)
    else:
        os.environ["V4S_CACHE"] = old


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "habitat" and not habitat_available():
        pytest.skip("habitat-sim is not installed (it ships through conda only; see environment.yml)")
    return request.param


@pytest.fixture
def sim_factory(backend):
    """Make simulators of the current backend; all are closed after the test."""
    made = []

    def make(**overrides):
        sim = make_sim(backend, SimConfig(**overrides))
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


@pytest.fixture(scope="session")
def box_room(tmp_path_factory) -> Path:
    from scene_fixtures import write_box_room

    glb, _ = write_box_room(tmp_path_factory.mktemp("box_room"))
    return glb
