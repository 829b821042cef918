"""Goal-pose conditioning on tiny configs: added to a trained model at zero, saved, loaded, guided, trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_pipeline import RES, frames, tiny_pipeline

from v4s.experiments.train import TrainConfig, flow_matching_loss
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.text import SmallTextEncoder

GOAL = np.array([1.5, -3.0, 0.5, 0.866], np.float32)  # 1.5 m right, 3 m ahead, facing 30 degrees left


def _goal_pipeline() -> ContextGuidedVideoPipeline:
    pipe = tiny_pipeline()
    pipe.transformer = pipe.transformer.extended(goal_dim=4)
    torch.manual_seed(1)
    torch.nn.init.normal_(pipe.transformer.goal_embedder[2].weight, std=0.2)  # as if trained: the goal matters
    pipe.transformer.eval()
    return pipe


def _sample(pipe, **kwargs):
    return pipe(frames(4), frames(1)[0], num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                output_type="latent", **kwargs).videos


def test_extending_a_trained_model_keeps_its_function_until_the_goal_is_learned():
    pipe = tiny_pipeline()
    before = _sample(pipe, instruction="")
    extended = pipe.transformer.extended(goal_dim=4)
    assert extended.config.goal_dim == 4 and pipe.transformer.extended(goal_dim=0) is pipe.transformer
    for name, value in pipe.transformer.state_dict().items():  # every trained weight kept
        torch.testing.assert_close(extended.state_dict()[name], value)
    pipe.transformer = extended.eval()
    assert pipe.goals_supported
    torch.testing.assert_close(_sample(pipe, goal_pose=GOAL), before)  # the new module starts at zero


def test_a_goal_changes_the_imagined_route_and_survives_save_and_load(tmp_path):
    pipe = _goal_pipeline()
    towards = _sample(pipe, goal_pose=GOAL)
    assert not torch.allclose(towards, _sample(pipe, goal_pose=-GOAL))
    pipe.save_pretrained(tmp_path / "goal")
    loaded = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "goal")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.goals_supported and loaded.transformer.config.goal_dim == 4
    torch.testing.assert_close(_sample(loaded, goal_pose=GOAL), towards)
    # one goal per scene of a batch, or one for all of them
    def batch(goal):
        return pipe(frames(4)[None].repeat(2, 0), frames(2), goal_pose=goal, num_candidates=2, num_inference_steps=1,
                    output_type="latent", generator=[torch.Generator().manual_seed(k) for k in range(4)]).videos

    each = batch(np.stack([GOAL, GOAL]))
    assert each.shape[:2] == (2, 2)
    torch.testing.assert_close(batch(GOAL), each)


def test_guidance_pairs_the_goal_with_the_null_goal():
    pipe = _goal_pipeline()
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["goal_pose"].clone()), with_kwargs=True)
    try:
        _sample(pipe, goal_pose=GOAL, num_candidates=2, guidance_scale=3.0)
    finally:
        handle.remove()
    conditional, unconditional = seen[0].chunk(2)
    torch.testing.assert_close(conditional, torch.as_tensor(GOAL).expand(2, 4))
    assert torch.count_nonzero(unconditional) == 0


def test_bad_goals_are_named():
    with pytest.raises(ValueError, match="goal_pose: this pipeline's transformer was not trained with goal"):
        _sample(tiny_pipeline(), goal_pose=GOAL)
    pipe = _goal_pipeline()
    with pytest.raises(ValueError, match=r"goal_pose must be \(4,\)"):
        _sample(pipe, goal_pose=GOAL[:3])
    with pytest.raises(ValueError, match="goal_pose holds NaN"):
        _sample(pipe, goal_pose=np.full(4, np.nan, np.float32))


def _batch(n: int) -> dict:
    rng = torch.Generator().manual_seed(0)
    latent = RES // 4
    return {"target": torch.randn(n, 4, 3, latent, latent, generator=rng),
            "context": torch.randn(n, 4, 4, latent, latent, generator=rng),
            "current": torch.randn(n, 4, 1, latent, latent, generator=rng),
            "context_index": torch.arange(4).expand(n, 4), "pose": torch.randn(n, 3, 4, generator=rng),
            "goal": torch.as_tensor(GOAL).expand(n, 4).clone(), "instruction": ["", "find the chair"] * (n // 2),
            "task": ["posenav", "objectnav"] * (n // 2)}


def test_a_model_without_goal_conditioning_trains_as_it_did():
    """goal_share draws nothing for a model without goal_dim: its loss, and the generator stream after it, do not
    depend on it."""
    pipe, encoder, out = tiny_pipeline(), SmallTextEncoder(dim=16, num_layers=1), []
    for share in (0.0, 1.0):
        generator = torch.Generator().manual_seed(0)
        cfg = TrainConfig(num_frames=3, goal_share=share)
        loss = flow_matching_loss(pipe.transformer, encoder, _batch(4), cfg, generator, torch.device("cpu"))
        out.append((loss.item(), torch.rand(1, generator=generator).item()))
    assert out[0] == out[1]


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_training_conditions_posenav_clips_on_the_goal_or_the_trajectory(share):
    pipe = _goal_pipeline()
    seen = {}
    handle = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(goal=kwargs["goal_pose"], pose=kwargs["target_pose"]),
        with_kwargs=True)
    cfg = TrainConfig(num_frames=3, drop_instruction=0.0, drop_context=0.0, goal_share=share)
    batch = _batch(4)
    try:
        flow_matching_loss(pipe.transformer, SmallTextEncoder(dim=16, num_layers=1), batch, cfg,
                           torch.Generator().manual_seed(0), torch.device("cpu"))
    finally:
        handle.remove()
    posenav = torch.tensor([t == "posenav" for t in batch["task"]])
    assert torch.count_nonzero(seen["goal"][~posenav]) == 0 and torch.count_nonzero(seen["pose"][~posenav]) == 0
    if share:  # the goal instead of the trajectory
        torch.testing.assert_close(seen["goal"][posenav], batch["goal"][posenav])
        assert torch.count_nonzero(seen["pose"][posenav]) == 0
    else:
        torch.testing.assert_close(seen["pose"][posenav], batch["pose"][posenav])
        assert torch.count_nonzero(seen["goal"]) == 0
