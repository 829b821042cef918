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


NO_HABITAT = "habitat-sim is not installed (it ships through conda only; see environment.yml)"


def pytest_addoption(parser):
    parser.addoption("--require-habitat", action="store_true",
                     help="fail, not skip, where habitat-sim is missing, and fail the run if any test was skipped "
                          "(make test-habitat)")


def pytest_collection_modifyitems(config, items):
    """Mark ``habitat`` every test that runs on habitat-sim: the ``backend`` fixture's habitat cases and the
    tests that ask for the ``habitat`` fixture (``pytest -m habitat`` selects them all)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if "habitat" in item.fixturenames or (callspec is not None and callspec.params.get("backend") == "habitat"):
            item.add_marker(pytest.mark.habitat)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if session.config.getoption("--require-habitat") and skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"--require-habitat: {skipped} test(s) were skipped; every habitat test must run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _need_habitat(config) -> None:
    if not habitat_available():
        if config.getoption("--require-habitat"):
            pytest.fail(f"{NO_HABITAT}, and --require-habitat was given")
        pytest.skip(NO_HABITAT)


@pytest.fixture
def habitat(request) -> None:
    """For tests that run the real habitat-sim: skipped where it is not installed."""
    _need_habitat(request.config)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "habitat":
        _need_habitat(request.config)
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
