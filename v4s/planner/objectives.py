"""What each task asks of the planner, in one place: its instruction, its candidates' scores, its STOP.

The planner and the video agent ask :func:`objective_for` for a task's objective and never branch
on task names themselves.

- :class:`ObjectGoal` (ObjectNav, object grounding): a text instruction; a candidate scores by the
  red box the model draws around the target (present, centred, growing) plus the extractor's
  confidence; STOP when the box is centred and large in the first imagined frames, or when the
  extractor reads no motion at the start of the best candidate while the box is in view.
- :class:`PoseGoal` (PoseNav, scene navigation), in one of two modes, chosen by the model:

  - trajectory (a model that follows a camera trajectory, the paper's scene navigation): the
    objective proposes K trajectories towards the goal (turn towards a heading, then walk), and a
    candidate scores by where the motion the extractor reads back from its frames, integrated from
    the current pose, ends relative to the goal, plus its agreement with the commanded motion (a
    blocked route shows the wall, and reads as no motion);
  - goal (a model trained with goal-pose conditioning): every candidate is conditioned on the goal
    pose relative to the current view and imagines a route of its own; it scores by where its
    read-back motion ends relative to the goal, plus the extractor's confidence. In an
    autoregressive rollout each call gets the goal relative to where the motion read back from
    the frames imagined so far has taken it.

  STOP when the goal lies within the success distance by odometry (the gps/compass point-goal
  sensor), after turning to the goal heading when the task has a heading tolerance.

Both objectives give the planner the pipeline's conditions of one call (:meth:`conditions`), so
the planner asks the same questions of either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from v4s.actions import FORWARD, LEFT, NO_MOTION, RIGHT
from v4s.model.boxes import box_centered, detect_box
from v4s.model.conditioning import integrate_actions, relative_poses


@dataclass
class PlanRequest:
    """One env's planning problem.

    Attributes:
        current: (R, R, 3) uint8 current view at the model's resolution.
        depth: (R, R) float32 metres of the current view, or None.
        context_latents: (C, T, h, w) latents of the context frames (the agent encodes each frame once).
        context_positions: (T,) their temporal positions.
        instruction_embeds: (L, D) text embeddings (text instructions), or None.
        sensors: the env's small observations (gps, compass, pointgoal_with_gps_compass, ...).
        generator: this env's torch generator (so plans do not depend on which envs share a call).
    """

    current: np.ndarray
    depth: np.ndarray | None
    context_latents: Any
    context_positions: np.ndarray
    instruction_embeds: Any
    sensors: dict[str, np.ndarray]
    generator: Any = None


#: ObjectNav's STOP rule as the agent ships it (the video agent's settings of the same names)
OBJECT_STOP = {"stop_box_area": 0.06, "stop_frames": 2, "stop_votes": 0}


class ObjectGoal:
    """ObjectNav's objective (see the module docstring).

    Args:
        stop_box_area: the least area of the red box that counts as close, as a share of the frame.
        stop_frames: how many of the first imagined frames must show it close (centred and that large).
        stop_votes: 0: the best candidate's frames decide; m: STOP when at least m of the K candidates show it.
        stop_confidence: the extractor's least confidence in "no motion" that stops while a box is in view.
        center_region: the central share of the frame's width where a box counts as centred.
    """

    text_instruction = True
    reads_rollout = False  #: whether :meth:`conditions` needs the actions read from the frames imagined so far
    AGENT_SETTINGS = tuple(OBJECT_STOP)  #: the video agent's settings that only this objective reads

    def __init__(self, stop_box_area: float = OBJECT_STOP["stop_box_area"],
                 stop_frames: int = OBJECT_STOP["stop_frames"], stop_votes: int = OBJECT_STOP["stop_votes"],
                 stop_confidence: float = 0.6, center_region: float = 0.5):
        if not 0 <= stop_box_area < 1:
            raise ValueError(f"agent.stop_box_area must be in [0, 1) (a share of the frame), got {stop_box_area}")
        if stop_frames < 1:
            raise ValueError(f"agent.stop_frames must be at least 1, got {stop_frames}")
        if stop_votes < 0:
            raise ValueError(f"agent.stop_votes must be 0 (the best candidate decides) or a count, got {stop_votes}")
        self.stop_box_area = stop_box_area
        self.stop_frames = stop_frames
        self.stop_votes = stop_votes
        self.stop_confidence = stop_confidence
        self.center_region = center_region

    def stop_now(self, sensors: dict[str, np.ndarray]) -> list[int] | None:
        return None  # the decision needs the imagined frames

    def commanded(self, request: PlanRequest, num_candidates: int, num_frames: int) -> None:
        return None  # no commanded motion: the text instruction is the same for every candidate

    def conditions(self, requests: list[PlanRequest], commanded: list[None], num_candidates: int, start: int,
                   stop: int, read: np.ndarray | None) -> dict[str, Any]:
        return {}  # the text instruction's embeddings are the request's own

    def _boxes(self, video: np.ndarray) -> list[tuple[int, int, int, int] | None]:
        return [detect_box(frame) for frame in video[1:]]

    def score(self, request: PlanRequest, video: np.ndarray, actions: np.ndarray, confidence: np.ndarray,
              commanded: np.ndarray | None) -> float:
        boxes = self._boxes(video)
        found = [b for b in boxes if b is not None]
        width = video.shape[2]
        present = len(found) / len(boxes)
        centred = float(box_centered(found[-1], width, self.center_region)) if found else 0.0
        area = [(b[2] - b[0]) * (b[3] - b[1]) for b in found]
        growing = float(len(area) > 1 and area[-1] > area[0])
        return present + 0.5 * centred + 0.25 * growing + 0.5 * float(np.mean(confidence))

    def shows_goal_close(self, boxes: list, size: tuple[int, int]) -> bool:
        """Whether the boxes found in a candidate's imagined frames (the current view's left out; None where a frame
        has none) show the goal close: the first ``stop_frames`` all centred, each at least ``stop_box_area`` of a
        frame of ``size`` (H, W)."""
        h, w = size
        early = boxes[: self.stop_frames]
        return bool(early) and all(
            b is not None and box_centered(b, w, self.center_region)
            and (b[2] - b[0]) * (b[3] - b[1]) >= self.stop_box_area * h * w for b in early)

    def stop_after(self, request: PlanRequest, videos: np.ndarray, actions: np.ndarray, confidence: np.ndarray,
                   best: int) -> bool:
        """STOP after imagining ``videos`` (K, F + 1, H, W, 3), their read actions and confidences (K, F), the best
        one ``best`` (:meth:`stop_from_boxes`; boxes are looked for only in the frames the rule reads)."""
        boxes = [self._boxes(video[: self.stop_frames + 1]) if self.stop_votes or j == best else []
                 for j, video in enumerate(videos)]
        return self.stop_from_boxes(boxes, actions, confidence, best, videos.shape[2:4])

    def stop_from_boxes(self, boxes: list[list], actions: np.ndarray, confidence: np.ndarray, best: int,
                        size: tuple[int, int]) -> bool:
        """The STOP rule on the boxes found in each candidate's first imagined frames: when the goal shows close
        (:meth:`shows_goal_close`) in the best candidate, or with ``stop_votes`` m > 0 in at least m of the K; or
        when the best one reads as no motion at its start, with confidence, while a box is in view."""
        if self.stop_votes:
            close = sum(self.shows_goal_close(found, size) for found in boxes) >= self.stop_votes
        else:
            close = self.shows_goal_close(boxes[best], size)
        still = (actions[best][0] == NO_MOTION and confidence[best][0] >= self.stop_confidence
                 and boxes[best][0] is not None)
        return close or still


class PoseGoal:
    """PoseNav's objective (see the module docstring).

    Args:
        forward_step, turn_angle: the agent's motion (metres, degrees).
        success_distance: metres; STOP inside it.
        heading_tolerance: degrees, or None when any heading counts.
        spread: degrees between the headings of the proposed trajectories.
        agreement_weight: metres of end-point error one unit of commanded/read-back agreement (trajectory
            mode) or of the extractor's confidence (goal mode) is worth.
        goal_conditioned: goal mode (the model takes ``goal_pose``) rather than trajectory mode.
    """

    text_instruction = False
    AGENT_SETTINGS = ("pose_instruction",)  #: the video agent's settings that only this objective reads

    def __init__(self, forward_step: float, turn_angle: float, success_distance: float,
                 heading_tolerance: float | None = None, spread: float = 30.0, agreement_weight: float = 0.5,
                 goal_conditioned: bool = False):
        self.forward_step = forward_step
        self.turn = math.radians(turn_angle)
        self.success_distance = success_distance
        self.heading_tolerance = heading_tolerance
        self.spread = max(1, round(spread / turn_angle))
        self.agreement_weight = agreement_weight
        self.goal_conditioned = goal_conditioned

    @staticmethod
    def goal_in_view_frame(request: PlanRequest) -> np.ndarray:
        """The goal (x right, z back) in the current agent frame, from the polar point-goal sensor."""
        rho, phi = (float(v) for v in request.sensors["pointgoal_with_gps_compass"])
        return np.array([-rho * math.sin(phi), -rho * math.cos(phi)])

    @property
    def reads_rollout(self) -> bool:
        """Goal mode needs the actions read from the frames imagined so far (each call's goal is relative to them)."""
        return self.goal_conditioned

    @classmethod
    def goal_pose(cls, request: PlanRequest) -> np.ndarray:
        """The goal pose (3,) [x right, z back, yaw] in the current agent frame: the point-goal sensor, and the goal
        heading relative to the current one when the brief gives it (else, or when it is NaN, the current
        heading, as the training clips of a goal without a heading)."""
        heading = float(request.sensors["goal_heading"][0]) if "goal_heading" in request.sensors else 0.0
        heading = 0.0 if math.isnan(heading) else heading
        return np.array([*cls.goal_in_view_frame(request), heading])

    def stop_now(self, sensors: dict[str, np.ndarray]) -> list[int] | None:
        """[STOP], or a turn towards the goal heading, once within the success distance by odometry; else None.
        The agent asks at every step, so a plan is cut short where it passes the goal."""
        rho = float(sensors["pointgoal_with_gps_compass"][0])
        if rho > self.success_distance * 0.9:
            return None
        if self.heading_tolerance is not None and "goal_heading" in sensors:
            delta = float(sensors["goal_heading"][0])
            if abs(math.degrees(delta)) > self.heading_tolerance:
                return [LEFT if delta > 0 else RIGHT]
        return [NO_MOTION]

    def commanded(self, request: PlanRequest, num_candidates: int, num_frames: int) -> np.ndarray | None:
        """(K, F) action sequences: turn towards the goal's bearing plus 0, +s, -s, +2s, ... turns, then walk as
        far as the goal (no motion after); None in goal mode, where the model chooses the route."""
        if self.goal_conditioned:
            return None
        rho, phi = (float(v) for v in request.sensors["pointgoal_with_gps_compass"])
        towards = round(phi / self.turn)
        offsets = [0] + [sign * self.spread * j for j in range(1, num_candidates) for sign in (1, -1)]
        out = np.full((num_candidates, num_frames), NO_MOTION, np.int64)
        for k, offset in enumerate(offsets[:num_candidates]):
            turns = towards + offset
            seq = [LEFT if turns > 0 else RIGHT] * min(abs(turns), num_frames)
            ahead = rho * math.cos(phi - turns * self.turn)
            walk = max(0, min(num_frames - len(seq), round(ahead / self.forward_step)))
            seq += [FORWARD] * walk
            out[k, : len(seq)] = seq
        return out

    def instruction(self, commanded: np.ndarray, start: int, stop: int) -> np.ndarray:
        """The model's per-frame trajectory instruction for frames ``start + 1 .. stop`` of the commanded
        sequences (K, H): their poses relative to the pose after the first ``start`` actions, (K, stop - start, 4)
        (one call of an autoregressive rollout starts where the previous one ended)."""
        out = []
        for seq in commanded:
            poses = integrate_actions(np.zeros(3), seq[:stop], self.forward_step, self.turn)
            origin = poses[start - 1] if start > 0 else np.zeros(3)
            out.append(relative_poses(origin, poses[start:stop]))
        return np.stack(out)

    def conditions(self, requests: list[PlanRequest], commanded: list[np.ndarray | None], num_candidates: int,
                   start: int, stop: int, read: np.ndarray | None) -> dict[str, Any]:
        """The pipeline's pose conditions for frames ``start + 1 .. stop`` of every request's K candidates (B * K
        rows, scene-major): the commanded trajectories (trajectory mode), or the goal pose relative to where the
        actions ``read`` (B * K, start) from the frames imagined so far end (goal mode; the current view at 0)."""
        if not self.goal_conditioned:
            return {"instruction": np.concatenate([self.instruction(c, start, stop) for c in commanded])[:, None]}
        goals = []
        for b, request in enumerate(requests):
            goal = self.goal_pose(request)[None]
            for j in range(num_candidates):
                row = b * num_candidates + j
                here = np.zeros(3) if read is None else \
                    integrate_actions(np.zeros(3), read[row, :start], self.forward_step, self.turn)[-1]
                goals.append(relative_poses(here, goal)[0])
        return {"goal_pose": np.stack(goals)}

    def score(self, request: PlanRequest, video: np.ndarray, actions: np.ndarray, confidence: np.ndarray,
              commanded: np.ndarray | None) -> float:
        end = integrate_actions(np.zeros(3), actions, self.forward_step, self.turn)[-1]
        miss = float(np.hypot(*(end[:2] - self.goal_in_view_frame(request))))
        if commanded is None:  # goal mode: the model chose the route; trust it as far as it reads clearly
            return -miss + self.agreement_weight * float(np.mean(confidence))
        return -miss + self.agreement_weight * float(np.mean((actions == commanded) * confidence))

    def stop_after(self, request: PlanRequest, videos: np.ndarray, actions: np.ndarray, confidence: np.ndarray,
                   best: int) -> bool:
        return False  # odometry decides, before planning


#: the objective of each task, by the task config's name
OBJECTIVES: dict[str, type] = {"objectnav": ObjectGoal, "posenav": PoseGoal}


def objective_class(task: Any) -> type:
    """The objective class of a task config; an unknown task is an error naming ``task.name``."""
    if task.name not in OBJECTIVES:
        raise ValueError(f"task.name: the planner has no objective for task {task.name!r}; "
                         f"it knows {sorted(OBJECTIVES)}")
    return OBJECTIVES[task.name]


def settings_ignored_by(task: Any) -> set[str]:
    """The video agent's settings that ``task`` does not read: the other tasks' objectives' own."""
    return {s for cls in OBJECTIVES.values() for s in cls.AGENT_SETTINGS} - set(objective_class(task).AGENT_SETTINGS)


def objective_for(task: Any, sim_config: Any, goal_conditioned: bool = False,
                  object_stop: dict[str, Any] | None = None) -> ObjectGoal | PoseGoal:
    """The objective of a task config (``ObjectNavConfig`` or ``PoseNavConfig``) for an agent with ``sim_config``;
    ``goal_conditioned``: the model takes a goal pose (PoseNav's goal mode); ``object_stop``: the settings of
    :class:`ObjectGoal`'s STOP rule (``stop_box_area``, ``stop_frames``, ``stop_votes``), which a task that stops
    by odometry ignores."""
    cls = objective_class(task)
    if cls is ObjectGoal:
        return ObjectGoal(center_region=getattr(task, "center_region", 0.5), **(object_stop or {}))
    return PoseGoal(sim_config.forward_step_size, sim_config.turn_angle, task.success_distance,
                    getattr(task, "heading_tolerance", None), goal_conditioned=goal_conditioned)


__all__ = ["OBJECTIVES", "OBJECT_STOP", "ObjectGoal", "PlanRequest", "PoseGoal", "objective_class", "objective_for",
           "settings_ignored_by"]
