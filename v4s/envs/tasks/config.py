"""Task settings, with habitat-lab's benchmark values as defaults.

ObjectNav follows ``benchmark/nav/objectnav/objectnav_hm3d.yaml`` (30 degree turns,
camera at 0.88 m, hfov 79, agent radius 0.18 and height 0.88, no sliding, 500 steps);
PoseNav follows the PointNav benchmark (10 degree turns, camera at 1.25 m, hfov 90,
radius 0.1, height 1.5, sliding, 0.2 m success distance). ``sim`` holds the simulator
settings a task implies; user settings override them. These dataclasses are the one source of the
defaults: the hydra files in ``v4s/experiments/conf/task`` extend them (stored as
``task/<name>_schema``) and hold only overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from v4s.envs.scenes.semantic import OBJECTNAV_CATEGORIES
from v4s.typed_config import build, require


@dataclass
class DatasetConfig:
    """How episodes are sampled (habitat-lab's ``is_compatible_episode`` rules)."""

    episodes_per_scene: int = 5
    min_geodesic: float = 1.0  #: metres (habitat's closest_dist_limit)
    max_geodesic: float = 30.0  #: metres (habitat's furthest_dist_limit)
    min_geodesic_to_euclid_ratio: float = 1.1
    #: share of pairs below the ratio kept anyway; habitat-lab keeps 0.2, v4s defaults to the strict rule
    ratio_sample_rate: float = 0.0
    max_floor_difference: float = 0.5  #: metres between start and goal heights (same floor)
    min_island_radius: float = 1.5  #: metres (habitat's ISLAND_RADIUS_LIMIT)
    max_tries: int = 300  #: start/goal samples per episode before giving up
    seed: int = 0

    def __post_init__(self) -> None:
        f = "task.dataset."
        require(self.episodes_per_scene >= 1, f + "episodes_per_scene", "at least 1", self.episodes_per_scene)
        require(self.min_geodesic >= 0, f + "min_geodesic", "at least 0 metres", self.min_geodesic)
        require(self.max_geodesic >= self.min_geodesic, f + "max_geodesic",
                f"at least min_geodesic ({self.min_geodesic} m)", self.max_geodesic)
        require(self.min_geodesic_to_euclid_ratio >= 1, f + "min_geodesic_to_euclid_ratio", "at least 1",
                self.min_geodesic_to_euclid_ratio)
        require(0 <= self.ratio_sample_rate <= 1, f + "ratio_sample_rate", "in [0, 1]", self.ratio_sample_rate)
        require(self.max_floor_difference >= 0, f + "max_floor_difference", "at least 0 metres",
                self.max_floor_difference)
        require(self.min_island_radius >= 0, f + "min_island_radius", "at least 0 metres", self.min_island_radius)
        require(self.max_tries >= 1, f + "max_tries", "at least 1", self.max_tries)


@dataclass
class TaskConfig:
    """A task's settings, and what callers ask of a task instead of testing its name."""

    #: the instruction is text ("find the guitar"), not the goal pose relative to the start
    text_instruction: ClassVar[bool] = False
    #: the task's goal is an object that training clips mark with a red box
    goal_box: ClassVar[bool] = False
    #: the task needs the semantic sensor whatever ``semantic`` says (ObjectNav: view points, centring)
    needs_semantic: ClassVar[bool] = False
    #: habitat-lab's dataset type of the task's episode files
    episode_type: ClassVar[str] = "PointNav-v1"
    #: episodes name an object category whose instances are the goals (ObjectNav-v1's ``goals_by_category``),
    #: not goal positions
    object_goals: ClassVar[bool] = False
    #: the random streams of the task's episodes (``v4s-gen-episodes``) and of its training clips
    #: (``v4s-gen-data``): fixed per task, so that a dataset and its clips are the same whatever else is made
    episode_stream: ClassVar[int] = 0
    clip_stream: ClassVar[int] = 0

    name: str = ""
    max_episode_steps: int = 500
    success_distance: float = 1.0  #: metres, geodesic
    context_frames: int = 32  #: frames of the house tour given at reset
    success_reward: float = 2.5
    slack_reward: float = -0.01
    depth: bool = True  #: include depth in the observations
    semantic: bool = False  #: include the semantic sensor (object ids) in the observations
    sim: dict[str, Any] = field(default_factory=dict)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)

    def __post_init__(self) -> None:
        require(self.max_episode_steps >= 1, "task.max_episode_steps", "at least 1", self.max_episode_steps)
        require(self.success_distance > 0, "task.success_distance", "positive (metres)", self.success_distance)
        require(self.context_frames >= 1, "task.context_frames", "at least 1", self.context_frames)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TaskConfig:
        """Build the config of ``values['name']``; an unknown field, a value of the wrong type or out of range
        is an error naming ``task.<field>``."""
        kind = task_kind(values.get("name"), "task.name")
        base = kind()
        values = dict(values)
        raw_sim, raw_dataset = values.pop("sim", None) or {}, values.pop("dataset", None) or {}
        if not isinstance(raw_sim, Mapping) or not isinstance(raw_dataset, Mapping):
            raise ValueError("task.sim and task.dataset must be mappings of fields")
        dataset = build(DatasetConfig, {**asdict(base.dataset), **raw_dataset}, "task.dataset")
        return build(kind, {**values, "sim": {**base.sim, **raw_sim}, "dataset": dataset}, "task")


@dataclass
class ObjectNavConfig(TaskConfig):
    text_instruction: ClassVar[bool] = True
    goal_box: ClassVar[bool] = True
    needs_semantic: ClassVar[bool] = True
    episode_type: ClassVar[str] = "ObjectNav-v1"
    object_goals: ClassVar[bool] = True
    episode_stream: ClassVar[int] = 1
    clip_stream: ClassVar[int] = 12

    name: str = "objectnav"
    success_distance: float = 1.0  #: to the nearest view point of any instance
    categories: tuple[str, ...] = OBJECTNAV_CATEGORIES
    view_point_radius: float = 1.0  #: view points lie within this distance of the object, metres
    view_point_spacing: float = 0.25  #: lattice of candidate view points, metres
    min_view_fraction: float = 0.01  #: share of the frame the object must cover from a view point
    require_centered: bool = False  #: success also needs the object in the central region of the last frame
    center_region: float = 0.5  #: width of that central region, as a share of the frame's width
    instructions: str = "all"  #: "all" instruction templates, or only the "paper" one
    sim: dict[str, Any] = field(default_factory=lambda: {
        "turn_angle": 30.0, "sensor_height": 0.88, "hfov": 79.0, "agent_radius": 0.18, "agent_height": 0.88,
        "allow_sliding": False})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.categories = tuple(self.categories)
        require(self.view_point_radius > 0, "task.view_point_radius", "positive (metres)", self.view_point_radius)
        require(self.view_point_spacing > 0, "task.view_point_spacing", "positive (metres)", self.view_point_spacing)
        require(0 <= self.min_view_fraction <= 1, "task.min_view_fraction", "in [0, 1]", self.min_view_fraction)
        require(0 < self.center_region <= 1, "task.center_region", "in (0, 1]", self.center_region)
        require(self.instructions in ("all", "paper"), "task.instructions", "'all' or 'paper'", self.instructions)


@dataclass
class PoseNavConfig(TaskConfig):
    episode_stream: ClassVar[int] = 2
    clip_stream: ClassVar[int] = 11

    name: str = "posenav"
    success_distance: float = 0.2
    heading_tolerance: float | None = None  #: degrees; None: any heading at the goal counts
    sim: dict[str, Any] = field(default_factory=lambda: {
        "turn_angle": 10.0, "sensor_height": 1.25, "hfov": 90.0, "agent_radius": 0.1, "agent_height": 1.5,
        "allow_sliding": True})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.heading_tolerance is None or 0 < self.heading_tolerance <= 180, "task.heading_tolerance",
                "in (0, 180] degrees, or null", self.heading_tolerance)


TASK_CONFIGS: dict[str, type[TaskConfig]] = {"objectnav": ObjectNavConfig, "posenav": PoseNavConfig}


def task_kind(name: str, field: str = "task") -> type[TaskConfig]:
    """The config class of task ``name``: what the task is, without building its settings."""
    if name not in TASK_CONFIGS:
        raise ValueError(f"{field}: unknown task {name!r}; valid tasks are {list(TASK_CONFIGS)}")
    return TASK_CONFIGS[name]


def require_tasks(tasks: tuple[str, ...], field: str = "tasks") -> None:
    """``tasks`` is a non-empty list of known task names, or an error naming ``field``."""
    require(len(tasks) > 0 and set(tasks) <= set(TASK_CONFIGS), field,
            f"a non-empty list of {', '.join(TASK_CONFIGS)}", list(tasks))


def task_config(task: str | TaskConfig | Mapping[str, Any]) -> TaskConfig:
    """A TaskConfig from a task name, a mapping with ``name``, or a TaskConfig."""
    if isinstance(task, TaskConfig):
        return task
    if isinstance(task, str):
        return TaskConfig.from_mapping({"name": task})
    return TaskConfig.from_mapping(task)
