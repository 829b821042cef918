"""Sampling episode datasets with habitat-lab's rules, and caching them.

A pair (start, goal) is kept when, as in habitat-lab's ``is_compatible_episode``:
start and goal are on the same floor, the goal is reachable, the geodesic distance
lies in ``[min_geodesic, max_geodesic]``, and geodesic / Euclidean is at least
``min_geodesic_to_euclid_ratio`` (pairs below it are kept with probability
``ratio_sample_rate``); the start must also lie on an island of radius at least
``min_island_radius``. For ObjectNav the goal is the nearest view point of any
instance of the category. Each scene's episodes come from their own seeded random
stream, so a dataset of more scenes begins with the same episodes.

Datasets come from the procedural houses of a split (:func:`generate_dataset`, cached by
:func:`ensure_dataset`) or from any list of scenes (:func:`generate_scene_dataset`: the
user's GLBs, stage configs or house ids).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from v4s.envs.scenes.mesh import SceneFileError
from v4s.envs.scenes.semantic import SemanticFileError
from v4s.envs.scenes.spec import SceneConfigError, SceneNotFoundError, cache_dir, resolve_scene, split_scene_ids
from v4s.envs.sim import SimConfig, make_sim, scene_pathfinder
from v4s.envs.sim.base import MultiGoalShortestPath, PathFinder, Simulator, yaw_to_quaternion
from v4s.envs.tasks import objectnav, posenav
from v4s.envs.tasks.config import DatasetConfig, ObjectNavConfig, PoseNavConfig, TaskConfig
from v4s.envs.tasks.episodes import EpisodeDataset, NavigationEpisode, ObjectGoal, PoseGoal, load_dataset


def nearest_reachable(pathfinder: PathFinder, start: np.ndarray, targets: np.ndarray) -> MultiGoalShortestPath | None:
    """The shortest path from ``start`` to the nearest of ``targets``, or None when none is reachable (no path,
    or a non-finite geodesic distance): the rule that both the sampler and the dataset check apply."""
    if len(targets) == 0:
        return None
    path = MultiGoalShortestPath(requested_start=start, requested_ends=list(targets))
    if not pathfinder.find_path(path) or not math.isfinite(path.geodesic_distance):
        return None
    return path


def compatible_pair(pathfinder: PathFinder, start: np.ndarray, targets: np.ndarray, rules: DatasetConfig,
                    rng: np.random.Generator) -> tuple[float, float] | None:
    """(geodesic, euclidean) to the geodesically nearest target when the pair passes habitat-lab's rules, else None."""
    if pathfinder.island_radius(start) < rules.min_island_radius:
        return None
    path = nearest_reachable(pathfinder, start, targets)
    if path is None:
        return None
    geodesic = path.geodesic_distance
    if not (rules.min_geodesic <= geodesic <= rules.max_geodesic):
        return None
    goal = targets[path.closest_end_point_index]
    if abs(float(goal[1] - start[1])) > rules.max_floor_difference:
        return None
    euclid = float(np.linalg.norm(goal - start))
    if euclid > 0 and geodesic / euclid < rules.min_geodesic_to_euclid_ratio and rng.random() >= rules.ratio_sample_rate:
        return None
    return geodesic, euclid


def _random_yaw(rng: np.random.Generator) -> float:
    return float(rng.uniform(-math.pi, math.pi))


def _objectnav_episodes(sim: Simulator, scene_id: str, goals: dict[str, list[ObjectGoal]], config: ObjectNavConfig,
                        rng: np.random.Generator, count: int, first_id: int) -> list[NavigationEpisode]:
    episodes: list[NavigationEpisode] = []
    if not goals:
        return episodes
    categories = sorted(goals)
    pathfinder = sim.pathfinder
    order = rng.permutation(len(categories))
    for e in range(count):
        category = categories[int(order[e % len(order)])]
        targets = np.array([vp.position for g in goals[category] for vp in g.view_points])
        for _ in range(config.dataset.max_tries):
            start = pathfinder.get_random_navigable_point()
            found = compatible_pair(pathfinder, start, targets, config.dataset, rng)
            if found is not None:
                geodesic, euclid = found
                episodes.append(NavigationEpisode(
                    episode_id=str(first_id + len(episodes)), scene_id=scene_id,
                    start_position=[float(v) for v in start],
                    start_rotation=[float(v) for v in yaw_to_quaternion(_random_yaw(rng))],
                    goals=goals[category], object_category=category,
                    info={"geodesic_distance": round(geodesic, 4), "euclidean_distance": round(euclid, 4)},
                    instruction={"instruction_text": objectnav.instruction_text(category, rng, config.instructions)}))
                break
    return episodes


def _posenav_episodes(sim: Simulator, scene_id: str, config: PoseNavConfig, rng: np.random.Generator,
                      count: int, first_id: int) -> list[NavigationEpisode]:
    pathfinder = sim.pathfinder
    episodes: list[NavigationEpisode] = []
    for _ in range(count):
        for _ in range(config.dataset.max_tries):
            start, goal = pathfinder.get_random_navigable_point(), pathfinder.get_random_navigable_point()
            found = compatible_pair(pathfinder, start, goal[None], config.dataset, rng)
            if found is not None:
                geodesic, euclid = found
                start_yaw, goal_yaw = _random_yaw(rng), _random_yaw(rng)
                episodes.append(NavigationEpisode(
                    episode_id=str(first_id + len(episodes)), scene_id=scene_id,
                    start_position=[float(v) for v in start],
                    start_rotation=[float(v) for v in yaw_to_quaternion(start_yaw)],
                    goals=[PoseGoal(position=[float(v) for v in goal],
                                    rotation=[float(v) for v in yaw_to_quaternion(goal_yaw)])],
                    info={"geodesic_distance": round(geodesic, 4), "euclidean_distance": round(euclid, 4)},
                    instruction=posenav.relative_pose_instruction(start, start_yaw, goal, goal_yaw)))
                break
    return episodes


def _scene_episodes(sim: Simulator, scene_id: str, config: TaskConfig, index: int, count: int,
                    first_id: int) -> tuple[list[NavigationEpisode], str]:
    """Up to ``count`` episodes of the loaded scene, from the stream of the scene's ``index`` in its dataset,
    numbered from ``first_id``; and, when fewer, why."""
    rng = np.random.default_rng([config.dataset.seed, config.episode_stream, index])
    sim.pathfinder.seed(int(rng.integers(2**31)))
    if not isinstance(config, ObjectNavConfig):
        episodes = _posenav_episodes(sim, scene_id, config, rng, count, first_id)
        return episodes, "" if len(episodes) == count else "no more start/goal pairs pass task.dataset's rules"
    goals = objectnav.scene_goals(sim, config)
    episodes = _objectnav_episodes(sim, scene_id, goals, config, rng, count, first_id)
    if len(episodes) == count:
        return episodes, ""
    if goals:
        return episodes, "no more start/goal pairs pass task.dataset's rules"
    found = sorted({obj.category for obj in sim.objects})
    return episodes, (f"no object of task.categories {list(config.categories)} has a view point (the scene's "
                      f"categories: {found})")


def task_sim_config(config: TaskConfig, overrides: dict | None = None) -> SimConfig:
    """The simulator settings of a task: SimConfig defaults, then the task's, then ``overrides``.

    A task that ``needs_semantic`` (ObjectNav: view points, centring) always renders the semantic sensor."""
    values = {**config.sim, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    values.pop("backend", None)
    sim = SimConfig.from_mapping(values)
    if (config.needs_semantic or config.semantic) and "semantic" not in sim.sensors:
        sim.sensors = (*sim.sensors, "semantic")
    return sim


def generate_dataset(config: TaskConfig, split: str, num_scenes: int, sim: Simulator | None = None,
                     backend: str = "embedded", sim_overrides: dict | None = None,
                     progress: bool = True) -> EpisodeDataset:
    """Sample ``episodes_per_scene`` episodes in each of the first ``num_scenes`` houses of ``split`` (a house
    with fewer compatible pairs gives fewer)."""
    scenes = split_scene_ids(split, num_scenes)
    per_scene = config.dataset.episodes_per_scene
    own_sim = sim is None
    if sim is None:
        sim = make_sim(backend, task_sim_config(config, sim_overrides))
    episodes: list[NavigationEpisode] = []
    try:
        for index, scene_id in enumerate(tqdm(scenes, desc=f"{config.name} episodes ({split})", unit="scene",
                                              disable=not progress)):
            sim.load_scene(scene_id)
            episodes += _scene_episodes(sim, scene_id, config, index, per_scene, index * per_scene)[0]
    finally:
        if own_sim:
            sim.close()
    return EpisodeDataset(task=config.name, episodes=episodes, categories=_categories(config))


def generate_scene_dataset(config: TaskConfig, scenes: list[str], num_episodes: int, sim: Simulator | None = None,
                           backend: str = "embedded", sim_overrides: dict | None = None,
                           progress: bool = True) -> EpisodeDataset:
    """Sample ``num_episodes`` episodes over ``scenes`` (GLB or stage config paths, relative ones under
    ``sim.scenes_dir``; or house ids), shared out evenly in their order. Episodes name each scene as given.

    Raises ValueError naming the scene when ObjectNav meets a scene without object semantics, and when a
    scene yields fewer episodes than its share (saying why)."""
    if not scenes:
        raise ValueError("scenes: give at least one scene (a .glb or .stage_config.json path, or a house id)")
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be at least 1, got {num_episodes}")
    own_sim = sim is None
    if sim is None:
        sim = make_sim(backend, task_sim_config(config, sim_overrides))
    counts = [num_episodes // len(scenes) + (i < num_episodes % len(scenes)) for i in range(len(scenes))]
    episodes: list[NavigationEpisode] = []
    short = []
    try:
        for index, scene_id in enumerate(tqdm(scenes, desc=f"{config.name} episodes", unit="scene",
                                              disable=not progress)):
            try:
                spec = resolve_scene(scene_id, sim.config.scenes_dir)
            except (SceneNotFoundError, SceneConfigError) as e:
                raise type(e)(f"scenes[{index}]: {e}") from None
            sim.load_scene(spec)
            if isinstance(config, ObjectNavConfig) and not sim.objects:
                raise ValueError(
                    f"scenes[{index}] {scene_id!r}: ObjectNav needs object semantics, and {spec.glb} has none: "
                    f"put {spec.glb.name[:-len('.glb')]}.semantic.json beside it (v4s's format: an id, category, GLB "
                    "node and world-frame AABB per object; or HM3D's <stem>.semantic.glb + <stem>.semantic.txt), "
                    "or sample task=posenav")
            new, why = _scene_episodes(sim, scene_id, config, index, counts[index], sum(counts[:index]))
            if len(new) < counts[index]:
                short.append(f"scenes[{index}] {scene_id!r}: {len(new)} of {counts[index]} episodes ({why})")
            episodes += new
    finally:
        if own_sim:
            sim.close()
    if short:
        raise ValueError(f"could not sample {num_episodes} {config.name} episodes:\n  " + "\n  ".join(short)
                         + "\nAsk for fewer episodes, add scenes, or relax task.dataset's rules (min_geodesic, "
                         "min_geodesic_to_euclid_ratio, min_island_radius)")
    return EpisodeDataset(task=config.name, episodes=episodes, categories=_categories(config))


def _categories(config: TaskConfig) -> tuple[str, ...]:
    return tuple(config.categories) if isinstance(config, ObjectNavConfig) else ()


def episode_problems(dataset: EpisodeDataset, backend: str, sim_config: SimConfig,
                     episodes: list[NavigationEpisode] | None = None, progress: bool = False) -> dict[str, str]:
    """What makes episodes of ``dataset`` unrunnable on ``backend`` for the agent of ``sim_config``, by episode id:
    a scene that does not load, a start off the navigable area, no goal, or no goal reachable from the start (by
    :func:`nearest_reachable`, the sampler's rule). Each scene's pathfinder is built once, without a renderer
    (:func:`v4s.envs.sim.scene_pathfinder`, whose cache the oracle and an in-process env share); ``episodes``
    defaults to all of them."""
    episodes = dataset.episodes if episodes is None else episodes
    problems: dict[str, str] = {}
    by_scene: dict[str, list[NavigationEpisode]] = {}
    for episode in episodes:
        by_scene.setdefault(episode.scene_id, []).append(episode)
    for scene_id, scene_episodes in tqdm(by_scene.items(), desc="checking episodes", unit="scene",
                                         disable=not progress):
        try:
            pathfinder = scene_pathfinder(backend, resolve_scene(scene_id, sim_config.scenes_dir), sim_config)
        except (SceneNotFoundError, SceneConfigError, SceneFileError, SemanticFileError) as e:
            for episode in scene_episodes:
                problems[episode.episode_id] = f"scene {scene_id!r} does not load ({e})"
            continue
        for episode in scene_episodes:
            start = np.asarray(episode.start_position, dtype=np.float64)
            targets = episode.goal_positions
            if not np.all(np.isfinite(start)) or not pathfinder.is_navigable(start):
                snapped = pathfinder.snap_point(start) if np.all(np.isfinite(start)) else None
                near = "" if snapped is None or not np.all(np.isfinite(snapped)) else \
                    f" (the nearest navigable point is {[round(float(v), 3) for v in snapped]})"
                problems[episode.episode_id] = f"start_position {episode.start_position} is off the navigable area{near}"
            elif len(targets) == 0:
                problems[episode.episode_id] = "no goal positions (an ObjectNav goal needs view_points)"
            elif nearest_reachable(pathfinder, start, targets) is None:
                problems[episode.episode_id] = "no goal is reachable from start_position (no path on the navmesh)"
    return problems


def dataset_cache_path(config: TaskConfig, split: str, num_scenes: int, sim: SimConfig, backend: str) -> Path:
    """Where the generated dataset of these settings is cached; the name hashes every setting it depends on."""
    relevant = {"task": {k: v for k, v in asdict(config).items()
                         if k not in ("max_episode_steps", "context_frames", "success_reward", "slack_reward",
                                      "depth", "semantic", "require_centered", "center_region", "heading_tolerance",
                                      "success_distance")},
                "sim": {k: v for k, v in asdict(sim).items() if k != "scenes_dir"},  # houses are found by id
                "backend": backend, "split": split, "num_scenes": num_scenes}
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return cache_dir() / "datasets" / config.name / f"{split}-{num_scenes}scenes-{digest}.json.gz"


def ensure_dataset(config: TaskConfig, split: str, num_episodes: int, sim_config: SimConfig,
                   backend: str = "embedded", sim: Simulator | None = None, progress: bool = True) -> Path:
    """Path of a cached dataset holding at least ``num_episodes`` episodes of ``split``, generating it if needed."""
    per_scene = config.dataset.episodes_per_scene
    num_scenes = max(1, math.ceil(num_episodes / per_scene))
    while True:
        path = dataset_cache_path(config, split, num_scenes, sim_config, backend)
        if path.is_file():
            size = len(load_dataset(path, config.name).episodes)
        else:
            dataset = generate_dataset(config, split, num_scenes, sim=sim, backend=backend,
                                       sim_overrides=asdict(sim_config), progress=progress)
            dataset.save(path)
            size = len(dataset.episodes)
        if size >= num_episodes:
            return path
        # a scene can yield fewer episodes than asked (no compatible pair): take more scenes
        missing = num_episodes - size
        num_scenes += max(1, math.ceil(missing / per_scene))
        if num_scenes > 4 * math.ceil(num_episodes / per_scene) + 10:
            raise RuntimeError(f"could not sample {num_episodes} {config.name} episodes in split {split!r} "
                               f"(got {size} from {num_scenes} scenes); relax task.dataset rules")


__all__ = ["compatible_pair", "dataset_cache_path", "ensure_dataset", "episode_problems", "generate_dataset",
           "generate_scene_dataset", "nearest_reachable", "task_sim_config"]
