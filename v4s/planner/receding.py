"""RecedingHorizonPlanner: imagine K routes per env in one batched call, read their actions, keep the best.

For every env that needs a plan the planner asks the pipeline for K candidate videos, all envs in
one call (each env's context latents and instruction embeddings precomputed by the agent). A model
whose horizon (``num_frames`` per call) is shorter than ``replan_every`` is rolled out
autoregressively: each further call, again one for all envs and candidates, starts from the frames
the previous one ended on (and, for a goal-conditioned model, gets the goal relative to where the
motion read back from the frames so far has taken it). The task's objective gives each call's
conditions (text, commanded trajectories or goal pose). A
candidate whose latents hold NaN or infinite values is dropped (and counted); the others are
decoded, the extractor reads each one's actions with a confidence per step, the task's objective
scores them, and the best one's first ``replan_every`` actions are the plan (receding horizon: the
agent replans once they have run). When no candidate is usable, or the best one reads as no motion
throughout, the plan is to explore (a turn, then forward steps), and that fallback is counted.

The planner knows arrays and the pipeline, never the simulator.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from v4s.actions import FORWARD, LEFT, NO_MOTION, RIGHT, STOP
from v4s.model.pipeline import uniform_sigmas
from v4s.model.vae import decode_latents
from v4s.planner.extractors import ActionExtractor
from v4s.planner.objectives import ObjectGoal, PlanRequest, PoseGoal

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """One env's plan: ``actions`` to run (STOP is 0), the chosen imagined video (F + 1, R, R, 3) with the
    current view first (None when nothing was imagined), the candidates' scores, how many candidates
    were dropped for NaN frames, and whether the plan is the exploring fallback."""

    actions: list[int]
    video: np.ndarray | None = None
    scores: list[float] = field(default_factory=list)
    dropped: int = 0
    fallback: bool = False
    imagined: bool = False  #: whether this plan came out of a pipeline call


class RecedingHorizonPlanner:
    """Plans for a batch of envs with one pipeline call (see the module docstring).

    Args:
        pipeline: a :class:`~v4s.model.pipeline.ContextGuidedVideoPipeline`.
        extractor: an :class:`~v4s.planner.extractors.ActionExtractor`.
        objective: the task's objective (:func:`~v4s.planner.objectives.objective_for`).
        num_candidates: K videos per env.
        num_inference_steps, guidance_scale: the pipeline's sampling settings.
        schedule: "scheduler" (the pipeline scheduler's own noise levels for ``num_inference_steps``) or
            "uniform" (:func:`~v4s.model.pipeline.uniform_sigmas`: Euler steps of equal size; the
            scheduler's last step is a thousandth of one, so uniform 2 imagines what scheduler 3 does).
        replan_every: how many of the best candidate's actions run before the next plan.
        turn_angle: degrees, for the exploring fallback's turn.
    """

    def __init__(self, pipeline, extractor: ActionExtractor, objective: ObjectGoal | PoseGoal,
                 num_candidates: int = 4, num_inference_steps: int = 4, guidance_scale: float = 2.0,
                 replan_every: int = 4, turn_angle: float = 30.0, seed: int = 0, schedule: str = "scheduler"):
        if num_candidates < 1:
            raise ValueError(f"agent.num_candidates must be at least 1, got {num_candidates}")
        if replan_every < 1:
            raise ValueError(f"agent.replan_every must be at least 1, got {replan_every}")
        if num_inference_steps < 1:
            raise ValueError(f"agent.num_inference_steps must be at least 1, got {num_inference_steps}")
        if schedule not in ("scheduler", "uniform"):
            raise ValueError(f"agent.schedule must be 'scheduler' or 'uniform', got {schedule!r}")
        self.pipeline = pipeline
        self.extractor = extractor
        self.objective = objective
        self.num_candidates = num_candidates
        #: the pipeline's sampling steps: the scheduler's own for num_inference_steps, or these noise levels
        self.sampling = {"num_inference_steps": num_inference_steps} if schedule == "scheduler" else \
            {"sigmas": uniform_sigmas(num_inference_steps)}
        self.guidance_scale = guidance_scale
        self.replan_every = replan_every
        self.explore_turns = max(1, round(60.0 / turn_angle))
        self.rng = np.random.default_rng(seed)
        self.num_frames = int(pipeline.config.num_frames)  #: frames per pipeline call (the model's horizon)
        #: frames imagined per plan: enough calls of the model's horizon to cover replan_every actions
        self.horizon = self.num_frames * math.ceil(replan_every / self.num_frames)

    def explore(self, request: PlanRequest) -> list[int]:
        """The fallback: a turn of about 60 degrees, then two steps forward. The side is drawn from the
        request's generator (its episode's), so an episode explores the same way whatever else runs."""
        if request.generator is not None:
            left = bool(torch.rand((), generator=request.generator) < 0.5)
        else:
            left = bool(self.rng.random() < 0.5)
        turn = LEFT if left else RIGHT
        return [turn] * self.explore_turns + [FORWARD, FORWARD]

    def plan(self, requests: list[PlanRequest]) -> list[Plan]:
        """One plan per request, with at most one pipeline call for all of them."""
        plans: list[Plan | None] = [None] * len(requests)
        todo = []
        for i, request in enumerate(requests):
            early = self.objective.stop_now(request.sensors)
            if early is not None:
                plans[i] = Plan(actions=early)
            else:
                todo.append(i)
        if todo:
            for i, plan in zip(todo, self._imagine([requests[i] for i in todo])):
                plans[i] = plan
        return plans

    def _imagine(self, requests: list[PlanRequest]) -> list[Plan]:
        """K candidate videos of ``horizon`` frames per request: one batched pipeline call per rollout step
        (B envs x K candidates together), each call starting from the previous call's last frames."""
        k, f = self.num_candidates, self.num_frames
        commanded = [self.objective.commanded(r, k, self.horizon) for r in requests]
        rows = [(b, j) for b in range(len(requests)) for j in range(k)]  # scene-major, as the pipeline's batches
        context = torch.stack([requests[b].context_latents for b, _ in rows])
        positions = np.stack([requests[b].context_positions for b, _ in rows])
        embeds = torch.stack([requests[b].instruction_embeds for b, _ in rows]) \
            if self.objective.text_instruction else None
        generators = [requests[b].generator for b, _ in rows] if requests[0].generator is not None else None
        views = current = np.stack([requests[b].current for b, _ in rows])  # views: the real current views
        # the pipeline rejects non-finite conditions: a scene whose latents hold any rides along as zeros (the batch
        # keeps its shape) and its candidates are dropped below (the stacks are copies: the requests keep theirs)
        finite = torch.isfinite(context).flatten(1).all(1).cpu().numpy()
        if embeds is not None:
            finite &= torch.isfinite(embeds).flatten(1).all(1).cpu().numpy()
        context[torch.as_tensor(~finite, device=context.device)] = 0.0
        if embeds is not None:
            embeds[torch.as_tensor(~finite, device=embeds.device)] = 0.0
        depth = None if requests[0].depth is None else np.stack([requests[b].depth for b, _ in rows])
        frames, read = [], None
        for start in range(0, self.horizon, f):
            if start and self.objective.reads_rollout:  # the actions of the frames imagined so far
                read = self.extractor.extract(np.concatenate([views[:, None], *frames], axis=1), depth)[0]
            conditions = self.objective.conditions(requests, commanded, k, start, start + f, read)
            latents = self.pipeline(
                None, current, num_candidates=1, num_frames=f,
                guidance_scale=self.guidance_scale, **self.sampling,
                context_positions=positions, context_latents=context, instruction_embeds=embeds,
                generator=generators, output_type="latent", **conditions).videos[:, 0]  # (B * K, C, f, h, w)
            ok = torch.isfinite(latents).flatten(1).all(1).cpu().numpy()
            finite &= ok
            latents[torch.as_tensor(~ok, device=latents.device)] = 0.0  # dropped below; decoded only to keep the batch whole
            decoded = decode_latents(self.pipeline.vae, latents)  # (B * K, f, R, R, 3)
            frames.append(decoded)
            current = decoded[:, -1]
        frames = np.concatenate(frames, axis=1)
        frames = frames.reshape(len(requests), k, *frames.shape[1:])
        finite = finite.reshape(len(requests), k)
        plans = []
        for b, request in enumerate(requests):
            dropped = int((~finite[b]).sum())
            if dropped:
                log.warning("dropped %d of %d imagined candidates with NaN or infinite values", dropped, k)
            if not finite[b].any():
                plans.append(Plan(actions=self.explore(request), dropped=dropped, fallback=True, imagined=True))
                continue
            keep = np.flatnonzero(finite[b])
            videos = np.concatenate([np.broadcast_to(request.current, (len(keep), 1, *request.current.shape)),
                                     frames[b][keep]], axis=1)
            depth = None if request.depth is None else np.broadcast_to(request.depth, (len(keep), *request.depth.shape))
            actions, confidence = self.extractor.extract(videos, depth)
            scores = [self.objective.score(request, videos[j], actions[j], confidence[j],
                                           None if commanded[b] is None else commanded[b][keep[j]])
                      for j in range(len(keep))]
            best = int(np.argmax(scores))
            plan = Plan(actions=[], video=videos[best], scores=[round(float(s), 4) for s in scores], dropped=dropped,
                        imagined=True)
            if self.objective.stop_after(request, videos, actions, confidence, best):
                plan.actions = [STOP]
            else:
                moves = [int(a) for a in actions[best][: self.replan_every] if a != NO_MOTION]
                if moves:
                    plan.actions = moves
                else:  # the best candidate stands still: nothing to follow
                    plan.actions, plan.fallback = self.explore(request), True
            plans.append(plan)
        return plans


__all__ = ["Plan", "RecedingHorizonPlanner", "STOP"]
