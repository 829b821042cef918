"""The Gymnasium env: ObjectNav and PoseNav episodes in a simulator backend.

Registered as ``v4s/ObjectNav-v0`` and ``v4s/PoseNav-v0``::

    import gymnasium as gym
    import v4s.envs  # registers the ids
    env = gym.make("v4s/ObjectNav-v0", split="val")
    obs, info = env.reset(seed=0)   # info["context"]: (T, H, W, 3) tour, info["instruction"]
    obs, reward, terminated, truncated, info = env.step(1)

Actions (``Discrete(4)``): 0 stop, 1 move_forward, 2 turn_left, 3 turn_right.
Observations: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W, 1) float32 metres (optional),
``semantic`` (H, W) int32 object ids (optional, off by default),
``gps`` (2,) [forward, right] metres from the start in the start's frame, ``compass``
(1,) radians turned left since the start (habitat's GPS and compass sensors), plus
``objectgoal`` (1,) category index (ObjectNav) or ``pointgoal_with_gps_compass`` (2,)
[distance, angle to the left] of the goal (PoseNav).
Reward: habitat's distance-to-goal reward, plus ``success_reward`` on success, plus
``slack_reward`` each step. ``terminated`` on STOP, ``truncated`` after
``max_episode_steps``. ``info`` carries the measures.

The simulator (and its GL context) is created on the first ``reset``, never in the
constructor, so envs can be built in a parent process and run in workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from v4s.actions import ACTION_NAMES, STOP
from v4s.envs.scenes.semantic import load_semantic
from v4s.envs.scenes.spec import SceneSpec, resolve_scene
from v4s.envs.sim import SimConfig, make_sim
from v4s.envs.sim.base import Simulator, quaternion_to_yaw
from v4s.envs.tasks import objectnav, posenav
from v4s.envs.tasks.config import ObjectNavConfig, PoseNavConfig, TaskConfig, task_config
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.envs.tasks.episodes import EpisodeDataset, NavigationEpisode, load_dataset
from v4s.envs.tasks.measures import Measures, StepState
from v4s.envs.tasks.tour import Tour, house_tour, render_poses
from v4s.geometry import to_agent_frame, wrap_angle

#: action index -> name; 0 is the task's STOP
ACTIONS = ACTION_NAMES  #: the action space: Discrete(4), in habitat-lab's order
#: bound of the gps and point-goal observations, metres
MAX_DISTANCE = 1e4
#: the keys ``reset(options=...)`` understands
RESET_OPTIONS: tuple[str, ...] = ("episode_id",)


class EpisodeOverError(RuntimeError):
    """``step`` after the episode ended."""


class EnvClosedError(RuntimeError):
    """``reset`` or ``step`` after ``close``."""


class NavEnv(gym.Env):
    """One simulator running the episodes of one task and split.

    Args:
        task: "objectnav", "posenav", a TaskConfig, or a mapping of its fields (with ``name``).
        split: the dataset split whose houses and episodes are used.
        dataset: a ``{split}.json.gz`` episode file (one file, or habitat-lab's per-scene ``content/``
            layout; relative scene ids are read under ``sim.scenes_dir``); None samples ``num_episodes``
            episodes of the split's procedural houses into the cache on first use.
        num_episodes: how many episodes the generated dataset holds at least.
        sim: SimConfig overrides (a mapping, or a SimConfig); the task supplies the rest.
        backend: "embedded" or "habitat".
        topdown: put a top-down map of the scene in the reset info (for videos).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: str | TaskConfig | Mapping[str, Any] = "objectnav", split: str = "val",
                 dataset: str | Path | None = None, num_episodes: int = 50,
                 sim: SimConfig | Mapping[str, Any] | None = None, backend: str = "embedded",
                 topdown: bool = False, render_mode: str | None = None):
        self.task = task_config(task)
        overrides = asdict(sim) if isinstance(sim, SimConfig) else dict(sim or {})
        self.sim_config = task_sim_config(self.task, overrides)
        self.backend = backend
        self.split = split
        self.dataset_path = Path(dataset) if dataset is not None else None
        self.num_episodes = num_episodes
        self.topdown = topdown
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        c = self.sim_config
        obs = {"rgb": spaces.Box(0, 255, (c.height, c.width, 3), np.uint8)}
        if self.task.depth:
            obs["depth"] = spaces.Box(0.0, c.zfar, (c.height, c.width, 1), np.float32)
        if self.task.semantic:
            obs["semantic"] = spaces.Box(0, np.iinfo(np.int32).max, (c.height, c.width), np.int32)
        obs["gps"] = spaces.Box(-MAX_DISTANCE, MAX_DISTANCE, (2,), np.float32)
        obs["compass"] = spaces.Box(-np.pi, np.pi, (1,), np.float32)
        if isinstance(self.task, ObjectNavConfig):
            obs["objectgoal"] = spaces.Box(0, len(self.task.categories) - 1, (1,), np.int64)
        else:
            obs["pointgoal_with_gps_compass"] = spaces.Box(np.array([0.0, -np.pi], np.float32),
                                                           np.array([MAX_DISTANCE, np.pi], np.float32), dtype=np.float32)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self._sim: Simulator | None = None
        self._dataset: EpisodeDataset | None = None
        self._tours: dict[str, Tour] = {}
        self._episode: NavigationEpisode | None = None
        self._next_index = 0
        self._order: np.ndarray | None = None
        self._over = True
        self._last_obs: dict[str, Any] | None = None
        self._closed = False

    # ------------------------------------------------------------------ lazily built parts
    @property
    def sim(self) -> Simulator:
        """The simulator, created on first use (this is when the GL context appears)."""
        self._check_open()
        if self._sim is None:
            self._sim = make_sim(self.backend, self.sim_config)
        return self._sim

    @property
    def dataset(self) -> EpisodeDataset:
        if self._dataset is None:
            path = self.dataset_path or ensure_dataset(self.task, self.split, self.num_episodes, self.sim_config,
                                                       self.backend, sim=self.sim, progress=False)
            self._dataset = load_dataset(path, self.task.name, self.sim_config.scenes_dir)
        return self._dataset

    @property
    def episode(self) -> NavigationEpisode:
        if self._episode is None:
            raise RuntimeError("no episode yet: call reset() first")
        return self._episode

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: ``options={"episode_id": ...}`` picks one; otherwise the next one, in dataset
        order, or in an order shuffled by ``seed`` when one is given (so ``reset(seed=s)`` repeats)."""
        self._check_open()
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"reset(options=...) must be a dict (or None), got {type(options).__name__} "
                            f"{options!r}; the keys it accepts are {list(RESET_OPTIONS)}, "
                            "e.g. options={'episode_id': '0'}")
        super().reset(seed=seed)
        options = options or {}
        episodes = self.dataset.episodes
        if not episodes:
            source = self.dataset_path or f"split {self.split!r}"
            raise RuntimeError(f"the {self.task.name} dataset {source} has no episodes (a per-scene dataset keeps "
                               "them in content/<scene>.json.gz beside its top-level file)")
        if seed is not None:
            self._order = self.np_random.permutation(len(episodes))
            self._next_index = 0
        if options.get("episode_id") is not None:
            episode = self.dataset.episode(str(options["episode_id"]))
        else:
            order = self._order if self._order is not None else range(len(episodes))
            episode = episodes[int(order[self._next_index % len(episodes)])]
            self._next_index += 1
        self._episode = episode
        sim = self.sim
        spec = resolve_scene(episode.scene_id, self.sim_config.scenes_dir)
        sim.load_scene(spec)
        sim.set_agent_state(episode.start_position, episode.start_rotation)
        self._start_position = np.asarray(episode.start_position, dtype=np.float64)
        self._start_yaw = quaternion_to_yaw(episode.start_rotation, field_name=f"episode {episode.episode_id} "
                                                                               "start_rotation")
        self._goal_points = episode.goal_positions
        self._goal_object_ids = {g.object_id for g in episode.goals if hasattr(g, "object_id")}
        self._measures = Measures(self.task.success_distance)
        self._steps = 0
        self._over = False
        raw = sim.observe()
        metrics = self._measures.reset(self._state(raw, stop=False, collided=False))
        obs = self._observation(raw)
        info = {**self._step_info(metrics), **self._reset_info(episode, spec)}
        self._last_obs = raw
        return obs, info

    def step(self, action: int):
        self._check_open()
        if self._over:
            raise EpisodeOverError("the episode is over (terminated or truncated): call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is outside the action space Discrete({len(ACTIONS)}): "
                             + ", ".join(f"{i}={name}" for i, name in enumerate(ACTIONS)))
        action = int(action)
        sim = self.sim
        if action == STOP:  # the view does not change; hand out copies, never the arrays already returned
            raw = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in self._last_obs.items()}
            collided = False
        else:
            raw = sim.step(ACTIONS[action])
            collided = bool(raw.get("collided", False))
        self._steps += 1
        stop = action == STOP
        metrics = self._measures.update(self._state(raw, stop=stop, collided=collided))
        terminated = stop
        truncated = not terminated and self._steps >= self.task.max_episode_steps
        self._over = terminated or truncated
        reward = metrics["distance_to_goal_reward"] + self.task.slack_reward
        if metrics["success"]:
            reward += self.task.success_reward
        self._last_obs = raw
        return self._observation(raw), float(reward), terminated, truncated, self._step_info(metrics)

    def render(self):
        if self.render_mode == "rgb_array" and self._last_obs is not None:
            return self._last_obs["rgb"]
        return None

    def close(self):
        """Free the simulator and its GL objects; idempotent. The env cannot be reset after this."""
        if self._sim is not None:
            self._sim.close()
            self._sim = None
        self._closed = True
        super().close()

    def _check_open(self) -> None:
        if self._closed:
            raise EnvClosedError(f"this {type(self).__name__} is closed: make a new env (NavEnv(...) or "
                                 "gym.make(...)) to run more episodes")

    # ------------------------------------------------------------------ pieces
    def _state(self, raw: dict[str, Any], stop: bool, collided: bool) -> StepState:
        position = self.sim.agent_state.position
        condition = True
        if stop and isinstance(self.task, ObjectNavConfig) and self.task.require_centered:
            condition = objectnav.centered(raw["semantic"], self._goal_object_ids, self.task.center_region)
        if stop and isinstance(self.task, PoseNavConfig):
            goal = self.episode.goals[0]
            if goal.rotation is not None:
                condition = posenav.heading_reached(self._yaw(), quaternion_to_yaw(goal.rotation),
                                                    self.task.heading_tolerance)
        return StepState(position=position, distance_to_goal=self._distance_to_goal, stop_called=stop,
                         collided=collided, goal_condition=condition)

    def _distance_to_goal(self, position: np.ndarray) -> float:
        return self.sim.pathfinder.geodesic_distance(position, self._goal_points)

    def _yaw(self) -> float:
        return quaternion_to_yaw(self.sim.agent_state.rotation)

    def _observation(self, raw: dict[str, Any]) -> dict[str, np.ndarray]:
        position, yaw = self.sim.agent_state.position, self._yaw()
        local = to_agent_frame(position - self._start_position, self._start_yaw)
        obs = {"rgb": raw["rgb"]}
        if self.task.depth:
            obs["depth"] = raw["depth"]
        if self.task.semantic:
            obs["semantic"] = raw["semantic"]
        obs["gps"] = np.array([-local[2], local[0]], dtype=np.float32)
        obs["compass"] = np.array([wrap_angle(yaw - self._start_yaw)], dtype=np.float32)
        if isinstance(self.task, ObjectNavConfig):
            obs["objectgoal"] = np.array([self.task.categories.index(self.episode.object_category)], dtype=np.int64)
        else:
            obs["pointgoal_with_gps_compass"] = posenav.pointgoal_with_gps_compass(
                position, yaw, self.episode.goals[0].position)
        return obs

    def _step_info(self, metrics: dict[str, float]) -> dict[str, Any]:
        state = self.sim.agent_state
        return {"episode_id": self.episode.episode_id, "num_steps": self._steps,
                "distance_to_goal": metrics["distance_to_goal"], "success": metrics["success"],
                "oracle_success": metrics["oracle_success"],
                "spl": metrics["spl"], "soft_spl": metrics["soft_spl"], "collisions": metrics["collisions"],
                "position": state.position.astype(np.float32), "heading": np.float32(self._yaw())}

    def _reset_info(self, episode: NavigationEpisode, spec: SceneSpec) -> dict[str, Any]:
        tour = self._tours.get(episode.scene_id)
        if tour is None:
            rooms = load_semantic(spec.semantic).rooms if spec.semantic is not None else []
            tour = self._tours[episode.scene_id] = house_tour(self.sim, rooms,
                                                              turn_degrees=self.sim_config.turn_angle)
        indices = tour.indices(self.task.context_frames)
        info: dict[str, Any] = {
            "scene_id": episode.scene_id,
            "instruction": episode.instruction_text,
            "context": render_poses(self.sim, tour.poses[indices]),
            "context_indices": indices,
            "context_poses": tour.poses[indices].astype(np.float32),
            "start_position": np.asarray(episode.start_position, dtype=np.float32),
            "start_rotation": np.asarray(episode.start_rotation, dtype=np.float32),
            "goals": self._goal_summary(episode),
        }
        if isinstance(self.task, ObjectNavConfig):
            info["object_category"] = episode.object_category
        else:
            info["relative_goal"] = np.array([*episode.instruction.get("relative_position", [math.nan] * 3),
                                              episode.instruction.get("relative_yaw", math.nan)], dtype=np.float32)
        if self.topdown:
            from v4s.envs.topdown import TopDownMap

            start_height = float(episode.start_position[1])  # the episode's floor: its goals are on it too
            info["topdown"] = TopDownMap.of(self.sim, self._goal_points, height=start_height).to_dict()
        return info

    @staticmethod
    def _goal_summary(episode: NavigationEpisode) -> list[dict[str, Any]]:
        """Privileged goal information for oracles and videos: positions (and view points, headings)."""
        out = []
        for goal in episode.goals:
            entry = {"position": list(goal.position)}
            if hasattr(goal, "view_points"):
                entry.update(object_id=goal.object_id, view_points=[vp.position for vp in goal.view_points])
            elif goal.rotation is not None:
                entry["rotation"] = list(goal.rotation)
            out.append(entry)
        return out

