"""v4s-eval-video on a few clips, with the committed checkpoint: the figures it reports are the right ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from v4s.experiments.eval_video import EvalConfig, eval_config, evaluate
from v4s.model.clips import load_clips
from v4s.model.metrics import psnr
from v4s.model.pipeline import ContextGuidedVideoPipeline

CHECKPOINT = Path(__file__).resolve().parents[2] / "v4s" / "assets" / "v4s-small"


@pytest.fixture(scope="module")
def clips_dir(val_clips):
    return val_clips


@pytest.fixture(scope="module")
def pipe():
    return ContextGuidedVideoPipeline.from_pretrained(CHECKPOINT)


def test_posenav_reports_psnr_ssim_and_the_copy_last_baseline(clips_dir, pipe, tmp_path):
    cfg = EvalConfig(task="posenav", num_clips=2, data=str(clips_dir), out=str(tmp_path), num_inference_steps=4)
    summary = evaluate(cfg, pipe)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    clips = load_clips(clips_dir, ("posenav",))
    copy_last = np.mean([np.mean([psnr(clips["current"][i], t) for t in clips["target"][i]]) for i in range(2)])
    assert summary["psnr_copy_last"] == pytest.approx(copy_last, abs=1e-3)
    assert summary["num_clips"] == 2 and 5 < summary["psnr"] < 60 and -1 <= summary["ssim"] <= 1
    assert len((tmp_path / "clips.jsonl").read_text().splitlines()) == 2 and (tmp_path / "examples.png").exists()
    # the closed loop's gates: the next frame against copying the current one, and the IDM's reading of it
    next_copy = np.mean([psnr(clips["current"][i], clips["target"][i][0]) for i in range(2)])
    assert summary["next_frame_psnr_copy_last"] == pytest.approx(next_copy, abs=1e-3)
    assert 5 < summary["next_frame_psnr"] < 60
    rows = [json.loads(line) for line in (tmp_path / "clips.jsonl").read_text().splitlines()]
    assert all(r["idm_readback"] in (0.0, 1.0) for r in rows)  # per clip: read right or not
    assert summary["idm_readback"] == pytest.approx(np.mean([r["idm_readback"] for r in rows]))
    # the same gates with a noise context in place of the scene's video, on the same clips and noise
    for key in ("next_frame_psnr_noise_context", "idm_readback_noise_context"):
        assert summary[key] == pytest.approx(np.mean([r[key] for r in rows]), abs=1e-4)
    assert all(r["next_frame_psnr_noise_context"] != r["next_frame_psnr"] for r in rows)


def test_objectnav_reports_box_rates_beside_the_ground_truth(clips_dir, pipe, tmp_path):
    cfg = EvalConfig(task="objectnav", num_clips=2, data=str(clips_dir), out=str(tmp_path), num_inference_steps=4,
                     context="noise", num_candidates=3)
    summary = evaluate(cfg, pipe)
    assert summary["context"] == "noise" and summary["num_candidates"] == 3
    assert "next_frame_psnr_noise_context" not in summary  # the context is noise already
    for key in ("box_rate", "box_centered_rate", "box_rate_any", "box_centered_rate_any", "gt_box_rate",
                "gt_box_centered_rate"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["gt_box_rate"] > 0
    # candidate 0 is one of the K candidates, so any-of-K can only be higher
    assert summary["box_rate_any"] >= summary["box_rate"]
    assert summary["box_centered_rate_any"] >= summary["box_centered_rate"]
    rows = [json.loads(line) for line in (tmp_path / "clips.jsonl").read_text().splitlines()]
    assert all(r["box_rate_any"] or not r["box_rate"] for r in rows)  # per clip: 0 or 1
    # the next frame's grounding counts each clip once: in the recall where its true next frame holds the box,
    # else in the false-box rate
    assert all((r["next_box_recall"] is None) != (r["next_box_false_rate"] is None) for r in rows)
    for key in ("next_box_recall", "next_box_false_rate"):
        counted = [r[key] for r in rows if r[key] is not None]
        assert summary[key] == (pytest.approx(np.mean(counted)) if counted else None)


def test_candidates_share_the_batch_and_candidate_zero_matches_a_single_sample(clips_dir, pipe, tmp_path):
    one = evaluate(EvalConfig(task="posenav", num_clips=1, data=str(clips_dir), out=str(tmp_path / "k1"),
                              num_inference_steps=2), pipe)
    two = evaluate(EvalConfig(task="posenav", num_clips=1, data=str(clips_dir), out=str(tmp_path / "k2"),
                              num_inference_steps=2, num_candidates=2), pipe)
    assert two["psnr"] == pytest.approx(one["psnr"], abs=0.05)
    assert one["psnr_candidates"] == one["psnr"] and two["psnr_candidates"] != two["psnr"]


def test_bad_context_mode_and_candidates(clips_dir):
    with pytest.raises(ValueError, match="context must be 'real' or 'noise'"):
        EvalConfig(task="posenav", data=str(clips_dir), context="blank")
    with pytest.raises(ValueError, match="num_candidates must be at least 1, got 0"):
        EvalConfig(task="posenav", data=str(clips_dir), num_candidates=0)


def _eval_command(*overrides: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "v4s.experiments.eval_video", *overrides]


def test_bad_input_is_named_before_any_work_from_any_directory(tmp_path):
    import subprocess

    from hydra import compose, initialize_config_module

    # run outside the repository: the default checkpoint and IDM resolve against the package
    typo = subprocess.run(_eval_command("data=clpis/val", "num_clips=1"), cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert typo.returncode != 0
    assert "data: no clip directory at clpis/val" in typo.stderr and "v4s-gen-data" in typo.stderr
    assert not (tmp_path / "data").exists()  # nothing generated
    for override, message in (("num_clips=0", "num_clips must be at least 1, got 0"),
                              ("num_clips=abc", "num_clips must be an integer, got 'abc'"),
                              ("context=zeros", "context must be 'real' or 'noise', got 'zeros'"),
                              (f"checkpoint={tmp_path / 'nowhere'}", f"checkpoint: no pipeline directory at {tmp_path}")):
        with initialize_config_module(config_module="v4s.experiments.conf", version_base=None):
            cfg = compose(config_name="eval_video", overrides=[override])
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            eval_config(cfg)
    assert Path(EvalConfig().checkpoint).is_absolute() and Path(EvalConfig().checkpoint).is_dir()


def test_posenav_by_goal_gives_the_model_only_the_clips_goal(clips_dir, pipe, tmp_path, monkeypatch):
    cfg = EvalConfig(task="posenav", num_clips=2, data=str(clips_dir), out=str(tmp_path), num_inference_steps=2,
                     pose_instruction="goal", save_examples=1)
    monkeypatch.chdir(tmp_path)  # where the default clip directory would be generated
    with pytest.raises(ValueError, match="pose_instruction=goal: the checkpoint .* was not trained with goal"):
        evaluate(EvalConfig(**{**cfg.__dict__, "data": None}), pipe)
    assert not (tmp_path / "data").exists()  # named before any clip was generated
    with pytest.raises(ValueError, match="pose_instruction must be 'trajectory'"):
        EvalConfig(task="objectnav", pose_instruction="goal")
    goal_pipe = ContextGuidedVideoPipeline.from_pretrained(CHECKPOINT)
    goal_pipe.transformer = goal_pipe.transformer.extended(goal_dim=4)
    goal_pipe.register_to_config(num_frames=2)  # a short-horizon model: 2 frames per call
    seen = []
    real = ContextGuidedVideoPipeline.__call__
    def spied(self, *args, **kwargs):
        seen.append((kwargs["instruction"], kwargs["goal_pose"]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ContextGuidedVideoPipeline, "__call__", spied)
    summary = evaluate(cfg, goal_pipe)
    clips = load_clips(clips_dir, ("posenav",))
    # no trajectory: the goal alone, in both calls per clip (the scene's context, then a noise context)
    assert [instruction for instruction, _ in seen] == [None] * 4
    np.testing.assert_array_equal(np.stack([goal for _, goal in seen]), np.repeat(clips["goal"][:2], 2, axis=0))
    assert summary["pose_instruction"] == "goal" and 5 < summary["next_frame_psnr"] < 60 and 5 < summary["psnr"] < 60
    assert Image.open(tmp_path / "examples.png").size == (8 * 64, 3 * 64)  # rows of 8 frames, padded
