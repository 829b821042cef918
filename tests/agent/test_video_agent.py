"""The real VideoAgent with the shipped checkpoints, in real episodes: plan, extract, execute, replan, stop.

These tests check the loop's mechanics, never its success rate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from v4s.actions import FORWARD, LEFT, RIGHT
from v4s.agent import EpisodeBrief
from v4s.agent.video import VideoAgent
from v4s.assets import VIDEO_MODEL
from v4s.envs.nav_env import NavEnv
from v4s.model.boxes import detect_box, draw_box
from v4s.model.conditioning import integrate_actions, relative_poses
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.planner import PlanRequest
from v4s.planner.objectives import ObjectGoal, PoseGoal

FAST = {"num_candidates": 2, "num_inference_steps": 2, "replan_every": 4}


@pytest.fixture
def pipeline_calls(monkeypatch):
    """Counts calls of the real pipeline (the calls still run)."""
    calls = []
    real = ContextGuidedVideoPipeline.__call__

    def counted(self, *args, **kwargs):
        calls.append(len(np.asarray(args[1] if len(args) > 1 else kwargs["current"])))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ContextGuidedVideoPipeline, "__call__", counted)
    return calls


def _env(task: str, steps: int = 16) -> NavEnv:
    return NavEnv({"name": task, "max_episode_steps": steps}, split="val", num_episodes=2,
                  sim={"width": 64, "height": 64})


def _batch(observations: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.stack([o[k] for o in observations]) for k in observations[0]}


def test_one_episode_plans_executes_and_replans_with_the_context_encoded_once(pipeline_calls, monkeypatch):
    env = _env("objectnav")
    agent = VideoAgent(env.sim_config, env.task, **FAST)
    encoded = []
    real_encode = agent.pipeline.encode_context
    monkeypatch.setattr(agent.pipeline, "encode_context",
                        lambda frames: encoded.append(np.asarray(frames).shape[:2]) or real_encode(frames))
    obs, info = env.reset(options={"episode_id": env.dataset.episodes[0].episode_id})
    agent.reset(0, EpisodeBrief.from_info(info, "objectnav"))
    assert encoded == [(1, len(info["context"]))]  # the whole tour, once, at reset

    done, actions, calls = False, [], []  # calls: pipeline calls so far, after each act
    while not done:
        action = int(agent.act(_batch([obs]), np.array([True]))[0])
        calls.append(len(pipeline_calls))
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    env.close()

    figures = agent.episode_figures(0)
    rollout = agent.planner.horizon // agent.planner.num_frames
    assert len(pipeline_calls) == figures["plans"] * rollout >= 1 and pipeline_calls[0] == FAST["num_candidates"]
    assert figures["plan_seconds"] > 0 and figures["plan_seconds_total"] >= figures["plan_seconds"]
    # the tour was never encoded again: every later encode is one own view, added to the memory per plan
    assert encoded[1:] == [(1, 1)] * figures["plans"]
    # replanning: a plan runs at most replan_every actions (or the exploring fallback's turn and two steps)
    planned_at = [i for i, n in enumerate(calls) if n > (calls[i - 1] if i else 0)]
    assert planned_at[0] == 0
    longest = max(np.diff(planned_at + [len(actions)]))
    assert longest <= max(FAST["replan_every"], agent.planner.explore_turns + 2)
    assert terminated == (actions[-1] == 0) and (terminated or len(actions) == 16)
    assert agent.imagined_view(0).shape == (64, 64, 3)


def test_two_envs_share_one_pipeline_call_per_replanning_step(pipeline_calls):
    envs = [_env("posenav"), _env("posenav")]
    agent = VideoAgent(envs[0].sim_config, envs[0].task, num_envs=2, **FAST)
    observations = []
    for i, env in enumerate(envs):
        obs, info = env.reset(options={"episode_id": env.dataset.episodes[i].episode_id})
        agent.reset(i, EpisodeBrief.from_info(info, "posenav"))
        observations.append(obs)
    # env 0's scene latents turn to NaN: its candidates are dropped, counted, and it explores
    agent.episodes[0].tour_latents.fill_(float("nan"))
    rollout = agent.planner.horizon // agent.planner.num_frames  # pipeline calls per plan (1 for an 8-frame model)
    for step in range(6):
        before = len(pipeline_calls)
        actions = agent.act(_batch(observations), np.array([True, True]))
        assert len(pipeline_calls) - before in (0, rollout)  # never one call per env
        if step == 0:
            k = FAST["num_candidates"]
            assert pipeline_calls == [2 * k] * rollout  # both envs' candidates in each call
        observations = [env.step(int(a))[0] for env, a in zip(envs, actions)]
    for env in envs:
        env.close()
    nan_env, clean_env = agent.episode_figures(0), agent.episode_figures(1)
    assert nan_env["dropped_candidates"] == FAST["num_candidates"] * nan_env["plans"] and nan_env["fallbacks"] >= 1
    assert clean_env["dropped_candidates"] == 0


def test_a_uniform_schedule_evaluates_the_model_once_per_noise_level(pipeline_calls):
    env = _env("posenav")
    agent = VideoAgent(env.sim_config, env.task, **{**FAST, "num_inference_steps": 2}, schedule="uniform")
    evaluations = []
    hook = agent.pipeline.transformer.register_forward_hook(lambda module, args, out: evaluations.append(1))
    obs, info = env.reset(options={"episode_id": env.dataset.episodes[0].episode_id})
    agent.reset(0, EpisodeBrief.from_info(info, "posenav"))
    try:
        agent.act(_batch([obs]), np.array([True]))
    finally:
        hook.remove()
        env.close()
    assert len(pipeline_calls) >= 1 and len(evaluations) == 2 * len(pipeline_calls)
    np.testing.assert_allclose(agent.pipeline.scheduler.sigmas.numpy(), [1.0, 0.5, 0.0])


def test_bad_settings_are_named(tmp_path):
    env = _env("posenav")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        VideoAgent(env.sim_config, env.task, checkpoint=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "no-idm")):
        VideoAgent(env.sim_config, env.task, idm=str(tmp_path / "no-idm"))
    with pytest.raises(ValueError, match="agent.context must be 'real' or 'noise'"):
        VideoAgent(env.sim_config, env.task, context="zeros")
    with pytest.raises(ValueError, match="agent.extractor: unknown extractor 'flow'"):
        VideoAgent(env.sim_config, env.task, extractor="flow")
    with pytest.raises(ValueError, match="agent.schedule must be 'scheduler' or 'uniform', got 'karras'"):
        VideoAgent(env.sim_config, env.task, schedule="karras")


def test_a_sensor_of_another_size_is_resized_and_said_once():
    env = NavEnv({"name": "objectnav", "max_episode_steps": 6}, split="val", num_episodes=1)  # 128 px
    with pytest.warns(UserWarning, match="resizes every frame") as said:
        agent = VideoAgent(env.sim_config, env.task, extractor="geometric", **FAST)
        obs, info = env.reset(seed=0)
        agent.reset(0, EpisodeBrief.from_info(info, "objectnav"))
        for _ in range(5):  # the 128 px frames and depth reach the model at 64 px
            obs, _, terminated, truncated, _ = env.step(int(agent.act(_batch([obs]), np.array([True]))[0]))
            if terminated or truncated:
                break
    env.close()
    assert len([w for w in said if "resizes" in str(w.message)]) == 1
    assert agent.episode_figures(0)["plans"] >= 1 and agent.imagined_view(0).shape == (64, 64, 3)


def test_a_plan_in_progress_stops_where_odometry_reaches_the_goal(pipeline_calls):
    env = _env("posenav")
    agent = VideoAgent(env.sim_config, env.task, **FAST)
    obs, info = env.reset(options={"episode_id": env.dataset.episodes[0].episode_id})
    agent.reset(0, EpisodeBrief.from_info(info, "posenav"))
    assert obs["pointgoal_with_gps_compass"][0] > env.task.success_distance  # the episode starts away from it
    first = int(agent.act(_batch([obs]), np.array([True]))[0])
    assert len(pipeline_calls) >= 1 and agent.episodes[0].queue  # a plan, with actions still to run
    obs, *_ = env.step(first)
    calls = len(pipeline_calls)
    # the same step's sensors, as they would read once the agent stood within the success distance
    near = dict(obs, pointgoal_with_gps_compass=np.array([0.5 * env.task.success_distance, 0.2], np.float32))
    assert int(agent.act(_batch([near]), np.array([True]))[0]) == 0  # STOP now, not after the plan's last action
    assert len(pipeline_calls) == calls
    env.close()


def _request(**sensors) -> PlanRequest:
    return PlanRequest(current=np.zeros((64, 64, 3), np.uint8), depth=None, context_latents=None,
                       context_positions=np.zeros(0), instruction_embeds=None,
                       sensors={k: np.asarray(v, np.float32) for k, v in sensors.items()})


def test_stop_rules():
    pose = PoseGoal(forward_step=0.25, turn_angle=10.0, success_distance=0.2)
    assert pose.stop_now({"pointgoal_with_gps_compass": np.array([0.1, 0.3])}) == [0]
    assert pose.stop_now({"pointgoal_with_gps_compass": np.array([1.5, 0.3])}) is None
    with_heading = PoseGoal(0.25, 10.0, 0.2, heading_tolerance=15.0)
    assert with_heading.stop_now({"pointgoal_with_gps_compass": np.array([0.1, 0.0]),
                                 "goal_heading": np.array([0.6])}) == [2]
    # the proposals turn towards the goal's bearing first, then walk as far as it
    commanded = pose.commanded(_request(pointgoal_with_gps_compass=[0.5, np.radians(30)]), 3, 8)
    assert commanded[0].tolist() == [2, 2, 2, 1, 1, 0, 0, 0]
    # the trajectory instruction of a rollout's second call starts where the first one ended
    whole, second = pose.instruction(commanded, 0, 8), pose.instruction(commanded, 4, 8)
    assert whole.shape == (3, 8, 4) and second.shape == (3, 4, 4)
    # frame 5 is one step ahead of frame 4, and the route stands still after it
    np.testing.assert_allclose(second[0], [[0.0, -0.25, 0.0, 1.0]] * 4, atol=1e-6)
    np.testing.assert_allclose(whole[0, 3, 2:], [np.sin(np.radians(30)), np.cos(np.radians(30))], atol=1e-6)
    assert commanded[1].tolist() == [2] * 6 + [1, 1] and commanded[2].tolist() == [1, 1] + [0] * 6

    objects = ObjectGoal()
    frame = np.full((64, 64, 3), 120, np.uint8)
    boxed = draw_box(frame, (20, 18, 44, 46), thickness=2)
    close = np.stack([frame, boxed, boxed, boxed])
    far = np.stack([frame, frame, frame, frame])
    moving = np.array([1, 1, 1]), np.array([0.9, 0.9, 0.9], np.float32)
    one = np.array([1, 1, 1])[None], np.array([0.9, 0.9, 0.9], np.float32)[None]
    assert objects.stop_after(_request(), close[None], *one, 0)
    assert not objects.stop_after(_request(), far[None], *one, 0)
    assert objects.score(_request(), close, *moving, None) > objects.score(_request(), far, *moving, None)
    # the STOP rule's settings: a box of 24 x 28 px is 16 % of a 64 x 64 frame
    assert not ObjectGoal(stop_box_area=0.2).stop_after(_request(), close[None], *one, 0)
    late = np.stack([frame, frame, boxed, boxed])  # the box only from the second imagined frame on
    assert not objects.stop_after(_request(), late[None], *one, 0)
    assert ObjectGoal(stop_frames=1).stop_after(_request(), close[None], *one, 0)
    assert not ObjectGoal(stop_frames=1).stop_after(_request(), late[None], *one, 0)
    # the rule on the boxes found in the frames (benchmarks/stop_rule.py replays it so) decides as on the frames
    for video in (close, late, far):
        boxes = [[detect_box(f) for f in video[1:]]]
        assert objects.stop_from_boxes(boxes, *one, 0, (64, 64)) == objects.stop_after(_request(), video[None], *one, 0)
    # votes: the best candidate (0) shows no box, one of the other two does
    three = np.stack([far, close, far]), np.repeat(one[0], 3, 0), np.repeat(one[1], 3, 0)
    assert not objects.stop_after(_request(), three[0], *three[1:], 0)
    assert ObjectGoal(stop_votes=1).stop_after(_request(), three[0], *three[1:], 0)
    assert not ObjectGoal(stop_votes=2).stop_after(_request(), three[0], *three[1:], 0)
    # standing still while a box is in view stops too, whatever its size
    small = np.stack([frame] + [draw_box(frame, (28, 28, 36, 36), thickness=2)] * 3)
    still = np.array([[0, 1, 1]]), np.array([[0.9, 0.9, 0.9]], np.float32)
    assert objects.stop_after(_request(), small[None], *still, 0) and not objects.stop_after(_request(), small[None], *one, 0)
    for bad in ({"stop_box_area": 1.5}, {"stop_frames": 0}, {"stop_votes": -1}):
        with pytest.raises(ValueError, match=f"agent.{next(iter(bad))}"):
            ObjectGoal(**bad)


@pytest.fixture(scope="module")
def goal_checkpoint(tmp_path_factory):
    """The shipped model with goal conditioning added (its goal layer drawn at random, as if trained) and a
    horizon of 4 frames, so that a plan of 8 actions is an autoregressive rollout of two calls."""
    pipe = ContextGuidedVideoPipeline.from_pretrained(VIDEO_MODEL)
    pipe.transformer = pipe.transformer.extended(goal_dim=4)
    torch.manual_seed(0)
    torch.nn.init.normal_(pipe.transformer.goal_embedder[2].weight, std=0.05)
    pipe.register_to_config(num_frames=4)
    out = tmp_path_factory.mktemp("goal") / "pipeline"
    pipe.save_pretrained(out)
    return out


def test_a_goal_conditioned_model_gets_the_goal_in_each_call_from_where_the_imagined_motion_led(goal_checkpoint,
                                                                                              monkeypatch):
    env = _env("posenav")
    agent = VideoAgent(env.sim_config, env.task, checkpoint=str(goal_checkpoint), num_candidates=2,
                       num_inference_steps=2, replan_every=8)
    assert agent.objective.goal_conditioned and (agent.planner.num_frames, agent.planner.horizon) == (4, 8)
    goals, reads = [], []
    real_call, real_extract = ContextGuidedVideoPipeline.__call__, agent.extractor.extract
    monkeypatch.setattr(ContextGuidedVideoPipeline, "__call__",
                        lambda self, *args, **kwargs: goals.append(kwargs["goal_pose"]) or real_call(self, *args,
                                                                                                     **kwargs))
    monkeypatch.setattr(agent.extractor, "extract",
                        lambda videos, depth=None: reads.append(real_extract(videos, depth)) or reads[-1])
    obs, info = env.reset(options={"episode_id": env.dataset.episodes[0].episode_id})
    brief = EpisodeBrief.from_info(info, "posenav")
    agent.reset(0, brief)
    agent.act(_batch([obs]), np.array([True]))
    env.close()
    assert len(goals) == 2  # one plan: two calls of the 4-frame model
    goal = PoseGoal.goal_pose(_request(**VideoAgent.sensors(brief, obs)))
    np.testing.assert_allclose(goals[0], np.repeat(relative_poses(np.zeros(3), goal[None]), 2, axis=0), atol=1e-6)
    read = reads[0][0]  # the actions read from the first call's frames, one row per candidate
    assert read.shape == (2, 4)
    for row, actions in enumerate(read):
        here = integrate_actions(np.zeros(3), actions, env.sim_config.forward_step_size,
                                 np.radians(env.sim_config.turn_angle))[-1]
        np.testing.assert_allclose(goals[1][row], relative_poses(here, goal[None])[0], atol=1e-6)
    assert agent.episode_figures(0)["plans"] == 1 and agent.episodes[0].queue


def test_pose_instruction_chooses_the_mode_of_a_checkpoint_that_has_both(goal_checkpoint):
    env = _env("posenav")
    by_trajectory = VideoAgent(env.sim_config, env.task, checkpoint=str(goal_checkpoint),
                               pose_instruction="trajectory")
    assert not by_trajectory.objective.goal_conditioned
    assert VideoAgent(env.sim_config, env.task, checkpoint=str(goal_checkpoint)).objective.goal_conditioned
    with pytest.raises(ValueError, match="pose_instruction=goal: the checkpoint .* not trained with goal poses"):
        VideoAgent(env.sim_config, env.task, pose_instruction="goal")  # the shipped model has no goal_dim
    with pytest.raises(ValueError, match="agent.pose_instruction must be"):
        VideoAgent(env.sim_config, env.task, pose_instruction="text")
    env.close()


def test_a_blocked_forward_ends_the_plan_with_a_turn_towards_room_then_a_replan(pipeline_calls):
    env = _env("objectnav", steps=60)
    agent = VideoAgent(env.sim_config, env.task, recover_blocked=True, **FAST)
    obs, info = env.reset(options={"episode_id": env.dataset.episodes[0].episode_id})
    half_step = 0.5 * env.sim_config.forward_step_size
    for _ in range(200):  # walk the env (not the agent) up to a wall: a forward that does not move
        before = obs["gps"].copy()
        obs, *_ = env.step(FORWARD)
        if np.hypot(*(obs["gps"] - before)) < half_step:
            break
    agent.reset(0, EpisodeBrief.from_info(info, "objectnav"))
    events, done, steps, blocked = 0, False, 0, False
    while not done and events < 2:
        calls = len(pipeline_calls)
        action = int(agent.act(_batch([obs]), np.array([True]))[0])
        if blocked:  # the step after a blocked forward: one turn, towards the side the depth sees further
            events += 1
            assert agent.episodes[0].figures["blocked_forwards"] == events
            half = obs["depth"].shape[1] // 2
            roomier = LEFT if np.median(obs["depth"][:, :half]) > np.median(obs["depth"][:, -half:]) else RIGHT
            assert action == roomier  # not the plan's next forward into the same wall
            assert len(pipeline_calls) == calls and not agent.episodes[0].queue  # and the next step replans
        before = obs["gps"].copy()
        obs, _, terminated, truncated, _ = env.step(action)
        done, steps = terminated or truncated, steps + 1
        blocked = action == FORWARD and np.hypot(*(obs["gps"] - before)) < half_step
    assert events >= 1, f"no blocked forward in {steps} steps from a wall"
    env.close()
