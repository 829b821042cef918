"""RecedingHorizonPlanner: imagine K routes per env in one batched call, read their actions, keep the best.

For every env that needs a plan the planner asks the pipeline for K candidate videos, all envs in
one call (each env's context latents and instruction embeddings precomputed by the agent). A
candidate whose latents hold NaN or infinite values is dropped (and counted); the others are
decoded, the extractor reads each one's actions with a confidence per step, the task's objective
scores them, and the best one's first ``replan_every`` actions are the plan (receding horizon: the
agent replans once they have run). When no candidate is usable, or the best one reads as no motion
throughout, the plan is to explore (a turn, then forward steps), and that fallback is counted.

The planner knows arrays and the pipeline, never the simulator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from v4s.model.vae import decode_latents
from v4s.planner.extractors import FORWARD, LEFT, NO_MOTION, RIGHT, ActionExtractor
from v4s.planner.objectives import ObjectGoal, PlanRequest, PoseGoal

STOP = 0  #: the env's STOP action (the extractors' "no motion" shares its id)
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
        replan_every: how many of the best candidate's actions run before the next plan.
        turn_angle: degrees, for the exploring fallback's turn.
    """

    def __init__(self, pipeline, extractor: ActionExtractor, objective: ObjectGoal | PoseGoal,
                 num_candidates: int = 4, num_inference_steps: int = 4, guidance_scale: float = 2.0,
                 replan_every: int = 4, turn_angle: float = 30.0, seed: int = 0):
        if num_candidates < 1:
            raise ValueError(f"agent.num_candidates must be at least 1, got {num_candidates}")
        if replan_every < 1:
            raise ValueError(f"agent.replan_every must be at least 1, got {replan_every}")
        if num_inference_steps < 1:
            raise ValueError(f"agent.num_inference_steps must be at least 1, got {num_inference_steps}")
        self.pipeline = pipeline
        self.extractor = extractor
        self.objective = objective
        self.num_candidates = num_candidates
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.replan_every = replan_every
        self.explore_turns = max(1, round(60.0 / turn_angle))
        self.rng = np.random.default_rng(seed)
        self.num_frames = pipeline.config.num_frames

    def explore(self) -> list[int]:
        """The fallback: a turn of about 60 degrees (random side), then two steps forward."""
        turn = LEFT if self.rng.random() < 0.5 else RIGHT
        return [turn] * self.explore_turns + [FORWARD, FORWARD]

    def plan(self, requests: list[PlanRequest]) -> list[Plan]:
        """One plan per request, with at most one pipeline call for all of them."""
        plans: list[Plan | None] = [None] * len(requests)
        todo = []
        for i, request in enumerate(requests):
            early = self.objective.stop_now(request)
            if early is not None:
                plans[i] = Plan(actions=early)
            else:
                todo.append(i)
        if todo:
            for i, plan in zip(todo, self._imagine([requests[i] for i in todo])):
                plans[i] = plan
        return plans

    def _imagine(self, requests: list[PlanRequest]) -> list[Plan]:
        k, f = self.num_candidates, self.num_frames
        proposals = [self.objective.proposals(r, k, f) for r in requests]
        commanded = [c for c, _ in proposals]
        if self.objective.text_instruction:
            instruction, embeds = None, torch.stack([r.instruction_embeds for r in requests])
        else:
            instruction, embeds = np.stack([poses for _, poses in proposals]), None
        generators = [r.generator for r in requests for _ in range(k)] if requests[0].generator is not None else None
        latents = self.pipeline(
            None, np.stack([r.current for r in requests]), instruction, num_candidates=k, num_frames=f,
            num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
            context_positions=np.stack([r.context_positions for r in requests]),
            context_latents=torch.stack([r.context_latents for r in requests]), instruction_embeds=embeds,
            generator=generators, output_type="latent").videos  # (B, K, C, F, h, w)
        plans = []
        for b, request in enumerate(requests):
            finite = torch.isfinite(latents[b]).flatten(1).all(1).numpy()
            dropped = int((~finite).sum())
            if dropped:
                log.warning("dropped %d of %d imagined candidates with NaN or infinite values", dropped, k)
            if not finite.any():
                plans.append(Plan(actions=self.explore(), dropped=dropped, fallback=True, imagined=True))
                continue
            keep = np.flatnonzero(finite)
            frames = decode_latents(self.pipeline.vae, latents[b][torch.as_tensor(keep)])  # (k', F, R, R, 3)
            videos = np.concatenate([np.broadcast_to(request.current, (len(keep), 1, *request.current.shape)),
                                     frames], axis=1)
            depth = None if request.depth is None else np.broadcast_to(request.depth, (len(keep), *request.depth.shape))
            actions, confidence = self.extractor.extract(videos, depth)
            scores = [self.objective.score(request, videos[j], actions[j], confidence[j],
                                           None if commanded[b] is None else commanded[b][keep[j]])
                      for j in range(len(keep))]
            best = int(np.argmax(scores))
            plan = Plan(actions=[], video=videos[best], scores=[round(float(s), 4) for s in scores], dropped=dropped,
                        imagined=True)
            if self.objective.stop_after(request, videos[best], actions[best], confidence[best]):
                plan.actions = [STOP]
            else:
                moves = [int(a) for a in actions[best][: self.replan_every] if a != NO_MOTION]
                if moves:
                    plan.actions = moves
                else:  # the best candidate stands still: nothing to follow
                    plan.actions, plan.fallback = self.explore(), True
            plans.append(plan)
        return plans


__all__ = ["Plan", "RecedingHorizonPlanner", "STOP"]
