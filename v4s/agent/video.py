"""VideoAgent: imagines the route with the video model, reads actions off the imagined frames, replans.

One agent drives all N envs of a vector env. At a reset it keeps the env's brief (never the
privileged goals): it resizes the tour frames to the model's resolution and encodes them once
(context latents), and encodes a text instruction once (instruction embeddings). Each step it
appends what it sees; every ``replan_every`` actions, or when a plan ran out, it asks the
:class:`~v4s.planner.RecedingHorizonPlanner` for a new plan, for all envs that need one in one
batched pipeline call.

Memory: the context of a plan is ``context_frames`` frames (the model's context length), drawn
non-contiguously (one per stratum) from the tour and, once there are some, ``history_frames`` of
the agent's own earlier views, which sit after the tour in time (position tour length + step),
the way the training clips place them. ``context="noise"`` replaces every context latent by
Gaussian noise: the ablation that shows what the scene's video is worth.

The task's objective comes from :func:`~v4s.planner.objective_for`, told whether the checkpoint
takes a goal pose (PoseNav's goal mode) or follows trajectories.

Blocked steps (``recover_blocked``): the actions of a plan run open loop, so a forward step into a
wall is followed by the rest of the plan's forwards into the same wall. With the setting on, a
forward step that odometry (gps) shows moved the agent less than half a step ends the plan: the agent
turns towards the half of its depth image that sees further, then replans. A robot's wheel odometry
gives the same signal; nothing privileged is read.
"""

from __future__ import annotations

import math
import time
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from v4s.actions import FORWARD, LEFT, RIGHT
from v4s.agent.base import EpisodeBrief
from v4s.assets import IDM, VIDEO_MODEL
from v4s.envs.sim.base import SimConfig
from v4s.envs.tasks.config import TaskConfig
from v4s.geometry import wrap_angle
from v4s.model.conditioning import context_indices, resize_depth, resize_frames
from v4s.planner import PlanRequest, RecedingHorizonPlanner, load_idm, make_extractor, objective_for
from v4s.planner.objectives import OBJECT_STOP, settings_ignored_by

IMAGE_KEYS = ("rgb", "depth", "semantic")


@dataclass
class _Episode:
    """What the agent keeps of one env's episode."""

    brief: EpisodeBrief
    tour_latents: torch.Tensor  #: (C, T, h, w)
    tour_positions: np.ndarray  #: (T,)
    tour_length: int
    instruction_embeds: torch.Tensor | None
    generator: torch.Generator
    history_latents: list[torch.Tensor] = field(default_factory=list)  #: (C, 1, h, w) each
    history_steps: list[int] = field(default_factory=list)
    queue: list[int] = field(default_factory=list)
    video: np.ndarray | None = None  #: the chosen imagined video of the current plan
    since_plan: int = 0
    steps: int = 0
    last_action: int | None = None
    last_gps: np.ndarray | None = None  #: odometry where the last action started
    figures: dict[str, float] = field(default_factory=lambda: {"plans": 0, "plan_seconds_total": 0.0,
                                                               "fallbacks": 0, "dropped_candidates": 0,
                                                               "blocked_forwards": 0})


class VideoAgent:
    """The video agent for N envs of one task.

    Args:
        sim_config: the env's simulator settings (sensor size, field of view, step, turn).
        task: the task config (its objective: instruction, scoring, STOP).
        num_envs: N.
        checkpoint: the video pipeline (default: the committed ``v4s-small``).
        idm: the inverse-dynamics checkpoint (default: the committed ``v4s-idm``).
        num_candidates, num_inference_steps, guidance_scale, replan_every: the planner's settings. The
            defaults (4 candidates, 3 steps, whose scheduler's last is a tiny one, g = 2, 8 actions per plan)
            keep an ObjectNav episode of 500 steps near a minute on a 2-core CPU; ``replan_every=4``
            replans twice as often at twice the cost.
        schedule: the noise levels of the sampling steps: "scheduler" (the scheduler's own, whose last step
            is a thousandth of one) or "uniform" (Euler steps of equal size): ``num_inference_steps=2
            schedule=uniform`` imagines what the default 3 scheduler steps do, at two thirds of the model's
            cost (``benchmarks/schedule.py``).
        context: "real", or "noise" (the ablation).
        extractor: "idm" or "geometric".
        pose_instruction: PoseNav's instruction to the model: "goal" (the goal pose relative to the current
            view; the checkpoint must have been trained with it, ``goal_dim``) or "trajectory" (the planner
            proposes K camera trajectories towards the goal). None: "goal" when the checkpoint takes goal
            poses, else "trajectory". ObjectNav ignores it.
        context_frames: the model's context length (its training clips hold 8).
        history_frames: how many of those may be the agent's own earlier views.
        recover_blocked: a forward step that did not move the agent (by gps) ends the plan with a turn
            towards the side its depth sees further, and a replan (see the module's docstring).
        stop_box_area, stop_frames, stop_votes: ObjectNav's STOP rule (:class:`~v4s.planner.objectives.ObjectGoal`):
            STOP when the first ``stop_frames`` imagined frames hold a centred red box of at least
            ``stop_box_area`` of the frame, in the best candidate (``stop_votes=0``) or in at least
            ``stop_votes`` of the K. PoseNav stops by odometry and ignores them.
        seed: seeds the sampling noise, per episode id.
        threads: torch CPU threads (0: torch's default).
    """

    privileged = False
    RUN_ONLY_SETTINGS = ("threads",)  #: settings that do not change results (left out of a run's fingerprint)
    #: settings added after runs were recorded, with the value that does what the agent did before them (left
    #: out of a run's fingerprint at that value, so that those runs resume)
    LATER_SETTINGS = {"pose_instruction": None, "recover_blocked": False, "schedule": "scheduler",
                      "stop_box_area": 0.06, "stop_frames": 2, "stop_votes": 0}

    @staticmethod
    def settings_ignored_by(task: TaskConfig) -> set[str]:
        """The settings ``task`` does not read (left out of a run's fingerprint): the other tasks' objectives'
        own, e.g. ObjectNav's STOP rule on PoseNav."""
        return settings_ignored_by(task)

    @staticmethod
    def checkpoints(settings: Mapping[str, object]) -> dict[str, str]:
        """The checkpoint directories an agent with ``settings`` loads (for a run's fingerprint)."""
        paths = {"checkpoint": str(settings.get("checkpoint") or VIDEO_MODEL)}
        if settings.get("extractor", "idm") == "idm":
            paths["idm"] = str(settings.get("idm") or IDM)
        return paths

    def __init__(self, sim_config: SimConfig, task: TaskConfig, num_envs: int = 1, checkpoint: str | None = None,
                 idm: str | None = None, num_candidates: int = 4, num_inference_steps: int = 3,
                 guidance_scale: float = 2.0, replan_every: int = 8, context: str = "real", extractor: str = "idm",
                 pose_instruction: str | None = None, context_frames: int = 8, history_frames: int = 2,
                 recover_blocked: bool = False, schedule: str = "scheduler",
                 stop_box_area: float = OBJECT_STOP["stop_box_area"], stop_frames: int = OBJECT_STOP["stop_frames"],
                 stop_votes: int = OBJECT_STOP["stop_votes"], seed: int = 0, threads: int = 0):
        from v4s.model.pipeline import ContextGuidedVideoPipeline

        if context not in ("real", "noise"):
            raise ValueError(f"agent.context must be 'real' or 'noise', got {context!r}")
        if pose_instruction not in (None, "goal", "trajectory"):
            raise ValueError(f"agent.pose_instruction must be 'goal' or 'trajectory' (or null), got {pose_instruction!r}")
        if not 0 <= history_frames < context_frames:
            raise ValueError(f"agent.history_frames must be in [0, context_frames={context_frames}), "
                             f"got {history_frames}")
        if threads:
            torch.set_num_threads(threads)
        self.pipeline = ContextGuidedVideoPipeline.from_pretrained(checkpoint or VIDEO_MODEL)
        self.pipeline.set_progress_bar_config(disable=True)
        self.resolution = int(self.pipeline.config.resolution)
        if (sim_config.width, sim_config.height) != (self.resolution, self.resolution):
            warnings.warn(f"the video model works at {self.resolution}x{self.resolution} px and the env's sensor is "
                          f"{sim_config.width}x{sim_config.height}: the agent resizes every frame it gives the model",
                          stacklevel=2)
        model = load_idm(idm or IDM) if extractor == "idm" else None
        self.extractor = make_extractor(extractor, model, sim_config.hfov, sim_config.forward_step_size,
                                        sim_config.turn_angle)
        if pose_instruction == "goal" and not self.pipeline.goals_supported:
            raise ValueError(f"agent.pose_instruction=goal: the checkpoint {checkpoint or VIDEO_MODEL} was not trained "
                             "with goal poses (its transformer has no goal_dim); use pose_instruction=trajectory")
        goal_mode = self.pipeline.goals_supported if pose_instruction is None else pose_instruction == "goal"
        self.objective = objective_for(task, sim_config, goal_conditioned=goal_mode,
                                       object_stop={"stop_box_area": stop_box_area, "stop_frames": stop_frames,
                                                    "stop_votes": stop_votes})
        self.planner = RecedingHorizonPlanner(self.pipeline, self.extractor, self.objective, num_candidates,
                                              num_inference_steps, guidance_scale, replan_every,
                                              sim_config.turn_angle, seed, schedule)
        self.num_envs = num_envs
        self.context = context
        self.context_frames = context_frames
        self.history_frames = history_frames
        self.recover_blocked = recover_blocked
        self.forward_step = sim_config.forward_step_size
        self.seed = seed
        self.episodes: list[_Episode | None] = [None] * num_envs

    # ------------------------------------------------------------------ episodes
    def reset(self, index: int, brief: EpisodeBrief) -> None:
        """Start env ``index``'s episode: the tour is encoded once, and a text instruction too."""
        generator = torch.Generator().manual_seed(zlib.crc32(f"{self.seed}/{brief.episode_id}".encode()))
        frames = resize_frames(brief.context, self.resolution)
        latents = self.pipeline.encode_context(frames[None])[0]
        if self.context == "noise":
            latents = torch.randn(latents.shape, generator=generator).to(latents.dtype)
        embeds = self.pipeline.encode_instruction([brief.instruction])[0] if self.objective.text_instruction else None
        positions = np.asarray(brief.context_indices, dtype=np.float64)
        self.episodes[index] = _Episode(brief=brief, tour_latents=latents, tour_positions=positions,
                                        tour_length=int(positions.max()) + 1 if len(positions) else 0,
                                        instruction_embeds=embeds, generator=generator)

    def episode_figures(self, index: int) -> dict[str, float]:
        """Planner calls, their total and mean wall time, fallbacks and dropped candidates of env ``index``."""
        figures = dict(self.episodes[index].figures)
        figures["plan_seconds_total"] = round(figures["plan_seconds_total"], 4)
        figures["plan_seconds"] = round(figures["plan_seconds_total"] / figures["plans"], 4) if figures["plans"] else 0.0
        return figures

    def imagined_view(self, index: int) -> np.ndarray:
        """The frame of the latest chosen imagined video that stands for env ``index``'s latest step (for
        videos); black before anything was imagined, so every frame of an episode video has its panel."""
        episode = self.episodes[index]
        if episode is None or episode.video is None:
            return np.zeros((self.resolution, self.resolution, 3), np.uint8)
        return episode.video[min(episode.since_plan, len(episode.video) - 1)]

    # ------------------------------------------------------------------ acting
    def _context(self, episode: _Episode) -> tuple[torch.Tensor, np.ndarray]:
        """Context latents (C, context_frames, h, w) and positions: tour strata plus own earlier views."""
        own = min(self.history_frames, len(episode.history_latents))
        tour = context_indices(episode.tour_latents.shape[1], self.context_frames - own)
        latents = [episode.tour_latents[:, tour]]
        positions = [episode.tour_positions[tour]]
        if own:
            seen = context_indices(len(episode.history_latents), own)
            latents.append(torch.cat([episode.history_latents[j] for j in seen], dim=1))
            positions.append(np.array([episode.tour_length + episode.history_steps[j] for j in seen], np.float64))
        return torch.cat(latents, dim=1), np.concatenate(positions)

    @staticmethod
    def sensors(brief: EpisodeBrief, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The small observations the planner gets, plus the goal heading relative to the current one when the
        brief has one."""
        sensors = {k: np.asarray(v) for k, v in obs.items() if k not in IMAGE_KEYS}
        goal = brief.goal_pose
        if goal is not None and "compass" in sensors:
            sensors["goal_heading"] = np.array([wrap_angle(math.radians(float(goal[3])) - float(sensors["compass"][0]))])
        return sensors

    def _request(self, episode: _Episode, obs: Mapping[str, np.ndarray]) -> PlanRequest:
        current = resize_frames(obs["rgb"], self.resolution)
        depth = resize_depth(obs["depth"], self.resolution) if "depth" in obs else None
        latents, positions = self._context(episode)
        return PlanRequest(current=current, depth=depth, context_latents=latents, context_positions=positions,
                           instruction_embeds=episode.instruction_embeds, sensors=self.sensors(episode.brief, obs),
                           generator=episode.generator)

    def _remember(self, episode: _Episode, frame: np.ndarray) -> None:
        """Add the current view (model resolution) to the episode's own history, encoded once."""
        latent = self.pipeline.encode_context(frame[None, None])[0]
        if self.context == "noise":
            latent = torch.randn(latent.shape, generator=episode.generator).to(latent.dtype)
        episode.history_latents.append(latent)
        episode.history_steps.append(episode.steps)

    def act(self, observations: Mapping[str, np.ndarray], active: np.ndarray) -> np.ndarray:
        """One action per env (0 for inactive ones); one planner call for all envs whose plan ran out. A plan in
        progress is cut short where the task's odometry STOP rule holds (PoseNav: within the success distance)."""
        actions = np.zeros(self.num_envs, dtype=np.int64)
        active = np.asarray(active, bool)
        if self.recover_blocked:
            self._recover(observations, active)
        for i in np.flatnonzero(active):  # the task's STOP by odometry, at every step, not only when planning
            episode = self.episodes[i]
            if episode.queue:
                early = self.objective.stop_now(self.sensors(episode.brief, {k: v[i] for k, v in observations.items()
                                                                         if k not in IMAGE_KEYS}))
                if early is not None:
                    episode.queue = early
        need = [i for i in np.flatnonzero(active) if not self.episodes[i].queue]
        if need:
            requests = [self._request(self.episodes[i], {k: v[i] for k, v in observations.items()}) for i in need]
            start = time.perf_counter()
            plans = self.planner.plan(requests)
            seconds = time.perf_counter() - start
            for i, request, plan in zip(need, requests, plans):
                episode = self.episodes[i]
                episode.queue = list(plan.actions)
                if plan.video is not None:  # a plan made without imagining keeps the last imagined video
                    episode.video, episode.since_plan = plan.video, 0
                figures = episode.figures
                if plan.imagined:
                    figures["plans"] += 1
                    figures["plan_seconds_total"] += seconds
                figures["fallbacks"] += int(plan.fallback)
                figures["dropped_candidates"] += plan.dropped
                if plan.imagined and self.history_frames:
                    self._remember(episode, request.current)
        for i in np.flatnonzero(active):
            episode = self.episodes[i]
            actions[i] = episode.queue.pop(0)
            episode.steps += 1
            episode.since_plan += 1
            episode.last_action = int(actions[i])
            episode.last_gps = np.array(observations["gps"][i], np.float64) if "gps" in observations else None
        return actions

    def _recover(self, observations: Mapping[str, np.ndarray], active: np.ndarray) -> None:
        """A forward step that moved the agent less than half a step (by gps) replaces the plan's remaining
        actions by one turn, towards the half of the depth image that sees further; the next step replans."""
        if "gps" not in observations:
            return
        for i in np.flatnonzero(active):
            episode = self.episodes[i]
            if episode.last_action != FORWARD or episode.last_gps is None:
                continue
            moved = float(np.hypot(*(np.asarray(observations["gps"][i], np.float64) - episode.last_gps)))
            if moved >= 0.5 * self.forward_step:
                continue
            depth = observations["depth"][i] if "depth" in observations else None
            episode.queue = [self._roomier_side(depth, episode)]
            episode.figures["blocked_forwards"] += 1

    @staticmethod
    def _roomier_side(depth: np.ndarray | None, episode: _Episode) -> int:
        """LEFT or RIGHT: the side whose half of the depth image has the larger median depth (a coin of the
        episode's generator without depth, or on a tie)."""
        if depth is not None:
            depth = np.asarray(depth, np.float64).reshape(depth.shape[0], depth.shape[1])
            half = depth.shape[1] // 2
            left, right = float(np.median(depth[:, :half])), float(np.median(depth[:, -half:]))
            if left != right:
                return LEFT if left > right else RIGHT
        return LEFT if bool(torch.rand((), generator=episode.generator) < 0.5) else RIGHT


__all__ = ["VideoAgent"]
