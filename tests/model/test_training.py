"""Training pieces on tiny configs: the flow-matching loss learns a fixed batch; data flips consistently."""

from __future__ import annotations

import numpy as np
import torch
from test_pipeline import tiny_pipeline

from v4s.experiments.train import TrainConfig, box_cells, flow_matching_loss, lr_factor
from v4s.model.clips import flip


def _batch(n: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    return {"target": torch.randn(n, 4, 3, 8, 8, generator=g), "context": torch.randn(n, 4, 4, 8, 8, generator=g),
            "current": torch.randn(n, 4, 1, 8, 8, generator=g), "context_index": torch.tensor([[0, 5, 9, 20]] * n),
            "pose": torch.randn(n, 3, 4, generator=g), "goal": torch.zeros(n, 4), "instruction": ["", "", "Find the bed.", "Find the chair."],
            "task": ["posenav", "posenav", "objectnav", "objectnav"],
            # the goal's box per target frame, pixels of a 64-px frame: none for PoseNav, from frame 2 for ObjectNav
            "boxes": torch.tensor([[[-1] * 4] * 3] * 2 + [[[-1] * 4] + [[16, 16, 48, 48]] * 2] * 2)}


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    pipe = tiny_pipeline()
    modules = torch.nn.ModuleList([pipe.transformer, pipe.instruction_encoder]).train()
    optimizer = torch.optim.AdamW(modules.parameters(), lr=3e-3)
    cfg = TrainConfig(drop_instruction=0.0, drop_context=0.0)
    batch = _batch()

    def loss() -> torch.Tensor:  # the same noise and noise levels every time: a fixed objective
        return flow_matching_loss(pipe.transformer, pipe.instruction_encoder, batch, cfg,
                                  torch.Generator().manual_seed(7), torch.device("cpu"))

    before = loss().item()
    for _ in range(30):
        value = loss()
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = loss().item()
    assert after < 0.8 * before, (before, after)


def test_condition_dropout_nulls_the_instruction_and_noises_the_context():
    pipe = tiny_pipeline()
    seen = {}

    def capture(module, args, kwargs):
        seen.update(text=args[2].detach().clone(), context=kwargs["context"].clone(), pose=kwargs["target_pose"].clone())

    handle = pipe.transformer.register_forward_pre_hook(capture, with_kwargs=True)
    batch = _batch()
    flow_matching_loss(pipe.transformer, pipe.instruction_encoder, batch,
                       TrainConfig(drop_instruction=1.0, drop_context=1.0), torch.Generator().manual_seed(0),
                       torch.device("cpu"))
    assert seen["text"].abs().sum() == 0 and seen["pose"].abs().sum() == 0
    assert not torch.allclose(seen["context"], batch["context"])
    flow_matching_loss(pipe.transformer, pipe.instruction_encoder, batch,
                       TrainConfig(drop_instruction=0.0, drop_context=0.0), torch.Generator().manual_seed(0),
                       torch.device("cpu"))
    handle.remove()
    assert torch.equal(seen["context"], batch["context"])
    assert seen["pose"][:2].abs().sum() > 0 and seen["pose"][2:].abs().sum() == 0  # ObjectNav gets no poses
    assert seen["text"][2:].abs().sum() > 0


def test_flip_mirrors_frames_poses_and_turns():
    rng = np.random.default_rng(0)
    clips = {"context": rng.integers(0, 255, (1, 2, 4, 4, 3), dtype=np.uint8),
             "current": rng.integers(0, 255, (1, 4, 4, 3), dtype=np.uint8),
             "target": rng.integers(0, 255, (1, 3, 4, 4, 3), dtype=np.uint8),
             "relative": np.array([[[0.5, -0.25, 0.5, 0.87]] * 3], np.float32), "actions": np.array([[1, 2, 3]]),
             "goal": np.array([[2.0, -3.0, -0.5, 0.87]], np.float32),
             "boxes": np.array([[[-1, -1, -1, -1], [0, 1, 3, 4], [1, 0, 2, 2]]], np.int16)}
    out = flip(clips)
    assert out["boxes"].tolist() == [[[-1, -1, -1, -1], [1, 1, 4, 4], [2, 0, 3, 2]]]  # x mirrored in a 4-px frame
    np.testing.assert_array_equal(out["current"][0], clips["current"][0][:, ::-1])
    np.testing.assert_allclose(out["relative"][0, 0], [-0.5, -0.25, -0.5, 0.87])
    np.testing.assert_allclose(out["goal"][0], [-2.0, -3.0, 0.5, 0.87])  # the goal mirrored with the route
    assert out["actions"].tolist() == [[1, 3, 2]]


def test_lr_warms_up_from_the_first_step_of_training_and_cools_down_at_the_end_of_the_run():
    cfg = TrainConfig(warmup=200, cooldown=100, cooldown_to=0.05)
    fresh = [lr_factor(i, cfg, first=0, end=1000) for i in range(1000)]
    assert fresh[0] == 1 / 200 and fresh[199] == 1.0 and fresh[800] == 1.0
    assert fresh[949] == 0.5 and fresh[-1] == 0.05 and all(a >= b for a, b in zip(fresh[200:], fresh[201:]))
    # a resumed run is past the warmup and cools down over its own last steps
    resumed = [lr_factor(i, cfg, first=6000, end=6500) for i in range(500)]
    assert resumed[0] == 1.0 and resumed[449] == 0.5 and resumed[-1] == 0.05
    assert lr_factor(10, TrainConfig(warmup=200), first=6000, end=6500) == 1.0


def test_a_pose_tasks_text_does_not_condition_the_model():
    pipe = tiny_pipeline()
    seen = {}
    handle = pipe.transformer.register_forward_pre_hook(lambda module, args: seen.update(text=args[2].detach().clone()))
    batch = _batch()
    batch["instruction"] = ["Go 2 m ahead.", "Turn around.", "Find the bed.", "Find the chair."]  # as PoseNav clips carry
    flow_matching_loss(pipe.transformer, pipe.instruction_encoder, batch,
                       TrainConfig(drop_instruction=0.0, drop_context=0.0), torch.Generator().manual_seed(0),
                       torch.device("cpu"))
    handle.remove()
    assert seen["text"][:2].abs().sum() == 0 and seen["text"][2:].abs().sum() > 0


def test_box_weight_counts_the_latent_cells_under_the_goals_box_outline_more():
    cells = box_cells(_batch()["boxes"], 64, (8, 8))  # 8 px per cell: the outline's pixels 16-17 and 46-47
    assert cells.shape == (4, 3, 8, 8) and cells[:2].sum() == 0 and cells[:, 0].sum() == 0
    ring = cells[2, 1]
    assert ring[2, 2:6].tolist() == [1.0] * 4 and ring[5, 2:6].tolist() == [1.0] * 4 and ring[2:6, 2].tolist() == [1.0] * 4
    assert ring[3:5, 3:5].sum() == 0 and ring[0].sum() == 0 and ring.sum() == 12  # not inside, not outside

    pipe = tiny_pipeline()

    def loss(batch: dict, weight: float) -> float:
        return flow_matching_loss(pipe.transformer, pipe.instruction_encoder, batch,
                                  TrainConfig(drop_instruction=0.0, drop_context=0.0, box_weight=weight),
                                  torch.Generator().manual_seed(3), torch.device("cpu")).item()

    batch = _batch()
    assert loss(batch, 10.0) > loss(batch, 1.0) > loss(batch, 0.0)
    boxless = {**batch, "boxes": torch.full_like(batch["boxes"], -1)}
    assert loss(boxless, 10.0) == loss(boxless, 0.0) == loss(batch, 0.0)
