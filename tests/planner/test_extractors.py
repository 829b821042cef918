"""Action extractors on real simulator frame pairs: the geometric one, and the shipped inverse-dynamics model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from v4s.actions import LEFT, NO_MOTION
from v4s.assets import IDM
from v4s.experiments.idm import PairsConfig, accuracy, sim_pairs
from v4s.planner.extractors import GeometricExtractor, InverseDynamicsModel, load_idm, make_extractor

TURN = {"objectnav": 30.0, "posenav": 10.0}
HFOV = {"objectnav": 79.0, "posenav": 90.0}


@pytest.fixture(scope="module", params=["objectnav", "posenav"])
def pairs(request):
    cfg = PairsConfig(split="val", num_scenes=1, pairs_per_scene=40, imagined=None)
    return request.param, sim_pairs(cfg, request.param, progress=False)


def test_sim_pairs_are_labelled_by_what_the_agent_did(pairs):
    task, data = pairs
    assert data["first"].shape == data["second"].shape == (40, 64, 64, 3) and data["depth"].shape == (40, 64, 64)
    assert set(np.unique(data["label"])) <= {0, 1, 2, 3} and len(set(data["label"].tolist())) >= 3
    still = data["label"] == NO_MOTION
    moved = np.abs(data["first"].astype(int) - data["second"].astype(int)).mean((1, 2, 3))
    assert (moved[data["label"] == LEFT] > 1).all()  # a turn always changes the view
    assert moved[still].max(initial=0) < moved[data["label"] == LEFT].min()


def test_geometric_extractor_reads_real_motion(pairs):
    """No learning: reprojection with depth and the intrinsics tells the actions apart."""
    task, data = pairs
    extractor = GeometricExtractor(HFOV[task], 0.25, TURN[task])
    videos = np.stack([data["first"], data["second"]], axis=1)
    actions, confidence = extractor.extract(videos, data["depth"].astype(np.float32))
    assert actions.shape == confidence.shape == (40, 1)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert (actions[:, 0] == data["label"]).mean() >= 0.85
    with pytest.raises(ValueError, match="needs the current depth"):
        extractor.extract(videos)


def test_the_shipped_idm_loads_and_reads_real_pairs(pairs):
    task, data = pairs
    model = load_idm(IDM)
    videos = np.stack([data["first"], data["second"], data["second"]], axis=1)  # the last pair: no motion
    actions, confidence = model.extract(videos)
    assert actions.shape == confidence.shape == (40, 2) and actions.dtype == np.int64
    assert ((confidence > 0) & (confidence <= 1)).all()
    assert accuracy(model, data)["accuracy"] >= 0.85
    assert (actions[:, 1] == NO_MOTION).mean() >= 0.85


def test_idm_round_trips_and_bad_checkpoints_are_named(tmp_path):
    torch.manual_seed(0)
    model = InverseDynamicsModel(channels=(8, 16)).eval()
    model.save_pretrained(tmp_path / "idm")
    again = load_idm(tmp_path / "idm")
    x = InverseDynamicsModel.to_pairs(np.zeros((2, 64, 64, 3), np.uint8), np.full((2, 64, 64, 3), 9, np.uint8))
    torch.testing.assert_close(model(x), again(x))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing")):
        load_idm(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown extractor 'flow'"):
        make_extractor("flow", None, 90.0, 0.25, 10.0)
    assert make_extractor("geometric", None, 90.0, 0.25, 10.0).turn == pytest.approx(np.radians(10.0))
