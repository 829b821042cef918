"""Numbers you can trust: the null instruction encodes to zeros in every mode, the pipeline rejects non-finite
inputs by name, and corrupted weights files fail to load, named (tiny configs, real files)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_pipeline import POSES, RES, frames, tiny_pipeline

from v4s.assets import IDM, VIDEO_MODEL
from v4s.experiments.train import TrainConfig, _val_loss
from v4s.model.data import LatentClips
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.text import SmallTextEncoder
from v4s.planner.extractors import InverseDynamicsModel, load_idm


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


def corrupt(file: Path) -> None:
    """Overwrite 4 KiB in the middle of the tensor data of a safetensors file with 0xff bytes (NaN as float32)."""
    data = bytearray(file.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")  # the tensors follow the header's length and its JSON
    middle = (start + len(data)) // 2
    assert middle - 2048 > start, f"{file} holds less than 4 KiB of tensor data"
    data[middle - 2048: middle + 2048] = b"\xff" * 4096
    file.write_bytes(bytes(data))


# ---------------------------------------------------------------------- 1. the null instruction
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
def test_an_empty_instruction_encodes_to_zeros_in_every_mode(mode, grad):
    torch.manual_seed(0)
    encoder = getattr(SmallTextEncoder(dim=16, num_layers=1), mode)()
    with torch.set_grad_enabled(grad):
        mixed = encoder(["find the plant", ""])
        alone = encoder(["find the plant"])
        empty = encoder(["", "..."])  # no words at all: the null instruction too
    assert torch.isfinite(mixed).all() and torch.isfinite(empty).all()
    assert mixed[1].abs().sum() == 0 and empty.abs().sum() == 0
    assert mixed[0].abs().sum() > 0
    torch.testing.assert_close(mixed[0], alone[0])  # an empty neighbour in the batch changes nothing
    if grad:
        mixed.sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_a_batch_mixing_a_text_and_the_null_instruction_samples_like_each_alone(pipe):
    contexts, currents = np.stack([frames(4, 1), frames(4, 2)]), frames(2, 3)
    kwargs = {"num_inference_steps": 2, "output_type": "latent"}
    batched = pipe(contexts, currents, ["Find the plant.", ""],
                   generator=[torch.Generator().manual_seed(s) for s in (1, 2)], **kwargs).videos
    assert torch.isfinite(batched).all()
    alone = pipe(contexts[1], currents[1], "", generator=torch.Generator().manual_seed(2), **kwargs).videos
    torch.testing.assert_close(batched[1], alone, atol=1e-4, rtol=1e-4)


def test_val_loss_of_a_batch_mixing_objectnav_and_posenav_is_finite(tmp_path):
    """The EMA modules of a run started from a checkpoint are in eval mode (diffusers' from_pretrained), as in
    train_diffusion; a fresh run's are in train mode. Both must give the same finite val loss."""
    tiny_pipeline().save_pretrained(tmp_path / "init")
    pipe = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "init")
    modules = torch.nn.ModuleDict({"transformer": pipe.transformer, "encoder": pipe.instruction_encoder})
    ema = copy.deepcopy(modules).requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    val = LatentClips(context=torch.randn(4, 4, 4, 8, 8, generator=g), current=torch.randn(4, 4, 1, 8, 8, generator=g),
                      target=torch.randn(4, 4, 3, 8, 8, generator=g), context_index=torch.tensor([[0, 5, 9, 20]] * 4),
                      pose=torch.randn(4, 3, 4, generator=g), goal=torch.zeros(4, 4),
                      boxes=torch.tensor([[[-1] * 4] * 3, [[20, 20, 44, 44]] * 3] * 2),
                      instruction=["", "Find the bed.", "", "Find the plant."],
                      task=["posenav", "objectnav", "posenav", "objectnav"])
    cfg = TrainConfig(batch_size=4)  # one val batch holding both tasks
    assert not ema["encoder"].training
    evaluated = _val_loss(ema, val, cfg, torch.device("cpu"))
    trained = _val_loss(ema.train(), val, cfg, torch.device("cpu"))
    assert np.isfinite(evaluated) and evaluated > 0
    assert evaluated == pytest.approx(trained, rel=1e-5)  # no dropout anywhere: the mode changes nothing


# ---------------------------------------------------------------------- 2. inputs
def _latents(pipe):
    return pipe.encode_context(frames(4)[None])[0]


NON_FINITE = {
    "guidance_scale nan": (lambda p: {"guidance_scale": float("nan")}, "guidance_scale must be a finite number"),
    "guidance_scale inf": (lambda p: {"guidance_scale": float("inf")}, "guidance_scale must be a finite number"),
    "context_positions": (lambda p: {"context_positions": np.array([0.0, np.nan, 2.0, 3.0])},
                          "context_positions holds NaN"),
    "poses": (lambda p: {"instruction": np.where(np.eye(3, 4, dtype=bool), np.nan, POSES)},
              r"instruction \(target poses\) holds NaN"),
    "context frames": (lambda p: {"context": np.full((4, RES, RES, 3), np.nan, np.float32)}, "context must be uint8"),
    "current frame": (lambda p: {"current": np.full((RES, RES, 3), np.nan, np.float32)}, "current must be uint8"),
    "context_latents nan": (lambda p: {"context": None, "context_latents": _latents(p) * float("nan")},
                            "context_latents holds NaN"),
    "context_latents inf": (lambda p: {"context": None, "context_latents": _latents(p).index_fill(0, torch.tensor([1]),
                                                                                                   float("inf"))},
                            "context_latents holds NaN or infinite"),
    "instruction_embeds": (lambda p: {"instruction": None,
                                      "instruction_embeds": p.encode_instruction(["x"])[0] * float("nan")},
                           "instruction_embeds holds NaN"),
}


@pytest.mark.parametrize("case", list(NON_FINITE))
def test_non_finite_inputs_are_rejected_by_name(pipe, case):
    make, message = NON_FINITE[case]
    kwargs = {"context": frames(4), "current": frames(1)[0], "instruction": "Find the plant.",
              "num_inference_steps": 1, **make(pipe)}
    with pytest.raises(ValueError, match=message):
        pipe(**kwargs)


def test_no_instruction_is_an_error_that_says_what_to_pass_and_the_null_text_samples(pipe):
    with pytest.raises(ValueError, match=re.escape('instruction: give a text ("" for none)')):
        pipe(frames(4), frames(1)[0], None, num_inference_steps=1)
    out = pipe(frames(4), frames(1)[0], "", num_inference_steps=1, output_type="latent").videos
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("positions, batched, shape", [
    (np.arange(5), False, (1, 5)),
    (np.arange(3), False, (1, 3)),
    (np.zeros((2, 4)), False, (2, 4)),  # two scenes' positions for one scene
    (np.zeros((2, 3)), True, (2, 3)),
    (np.zeros(3), True, (2, 3)),
])
def test_context_positions_of_the_wrong_length_say_both_lengths_and_the_fix(pipe, positions, batched, shape):
    context, current = (np.stack([frames(4)] * 2), frames(2)) if batched else (frames(4), frames(1)[0])
    instruction = ["x", "y"] if batched else "x"
    b = 2 if batched else 1
    expected = re.escape(f"context_positions must hold one position per context frame: 4 context frames, got "
                         f"positions of shape {shape}; give (4,) or ({b}, 4) positions")
    with pytest.raises(ValueError, match=expected):
        pipe(context, current, instruction, context_positions=positions, num_inference_steps=1)
    with pytest.raises(ValueError, match="context_positions must hold one position per context frame: 4"):
        pipe(None, current, instruction, context_latents=pipe.encode_context(np.asarray(context).reshape(b, 4, RES, RES, 3)),
             context_positions=positions, num_inference_steps=1)


# ---------------------------------------------------------------------- 3. weights
@pytest.mark.parametrize("component", ["transformer", "vae", "instruction_encoder"])
def test_a_corrupted_pipeline_weights_file_is_named_with_its_first_bad_parameter(tmp_path, component):
    pipe = tiny_pipeline()
    pipe.save_pretrained(tmp_path / "ckpt")
    file = tmp_path / "ckpt" / component / "diffusion_pytorch_model.safetensors"
    ContextGuidedVideoPipeline.from_pretrained(tmp_path / "ckpt")  # the intact checkpoint loads
    corrupt(file)
    bad = {name for name, tensor in load_file(file).items() if not torch.isfinite(tensor).all()}
    assert bad, "the corruption must reach the tensors"
    first = next(name for name in getattr(pipe, component).state_dict() if name in bad)
    with pytest.raises(ValueError, match=re.escape(f"{file}: corrupted weights: '{first}' holds NaN")):
        ContextGuidedVideoPipeline.from_pretrained(tmp_path / "ckpt")


def test_a_corrupted_idm_weights_file_is_named_with_its_first_bad_parameter(tmp_path):
    torch.manual_seed(0)
    model = InverseDynamicsModel(channels=(8, 16))
    model.save_pretrained(tmp_path / "idm")
    file = tmp_path / "idm" / "diffusion_pytorch_model.safetensors"
    corrupt(file)
    bad = {name for name, tensor in load_file(file).items() if not torch.isfinite(tensor).all()}
    first = next(name for name in model.state_dict() if name in bad)
    with pytest.raises(ValueError, match=re.escape(f"{file}: corrupted weights: '{first}' holds NaN")):
        load_idm(tmp_path / "idm")


def test_the_committed_checkpoints_load_with_finite_weights():
    pipe = ContextGuidedVideoPipeline.from_pretrained(VIDEO_MODEL)
    for name in ("transformer", "vae", "instruction_encoder"):
        assert all(torch.isfinite(t).all() for t in getattr(pipe, name).state_dict().values() if t.is_floating_point())
    assert all(torch.isfinite(p).all() for p in load_idm(IDM).parameters())
