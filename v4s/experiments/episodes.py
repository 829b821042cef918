"""``v4s-episodes``: sample an episode dataset in habitat-lab's layout.

Procedural houses of a split, or your own scenes::

    v4s-episodes task=objectnav split=val num_episodes=50 out=data/datasets/objectnav
    v4s-episodes task=posenav scenes=[rooms/a.glb,rooms/b.glb] split=mine num_episodes=20 out=DIR

Samples the episodes (habitat-lab's rules, see :mod:`v4s.envs.tasks.dataset`) and writes
``DIR/<split>.json.gz`` in habitat-lab's PointNav-v1 / ObjectNav-v1 layout, ready for
``v4s-bench dataset=DIR/<split>.json.gz``; ``layout=content`` writes habitat-lab's per-scene
layout instead (``DIR/<split>.json.gz`` with no episodes, ``DIR/content/<scene>.json.gz``).
With ``scenes=``, ``split`` is only the file's name; scene paths are written as given and
relative ones are read under ``sim.scenes_dir`` (give the bench the same ``sim.scenes_dir``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import v4s.experiments.conf  # noqa: F401  (stores the conf/task group's defaults before hydra composes)
from v4s.envs.scenes.spec import SPLIT_SEEDS
from v4s.envs.tasks.config import TaskConfig
from v4s.envs.tasks.dataset import ensure_dataset, generate_scene_dataset, task_sim_config
from v4s.envs.tasks.episodes import LAYOUTS, load_dataset
from v4s.typed_config import build, require


@dataclass
class EpisodesConfig:
    """The command's own settings (``task`` and ``sim`` are the task's and simulator's configs)."""

    split: str = "val"  #: a split of procedural houses, or (with ``scenes``) the dataset's name
    num_episodes: int = 50
    out: str = "data/datasets/objectnav"
    scenes: tuple[str, ...] | None = None  #: your scenes (.glb / .stage_config.json paths, house ids)
    layout: str = "single"  #: "single" file, or habitat-lab's per-scene "content" layout

    def __post_init__(self) -> None:
        require(self.num_episodes >= 1, "num_episodes", "a positive integer", self.num_episodes)
        require(self.layout in LAYOUTS, "layout", f"one of {list(LAYOUTS)}", self.layout)
        require(bool(self.out), "out", "a directory path", self.out)
        if self.scenes is None:
            require(self.split in SPLIT_SEEDS, "split", f"one of {list(SPLIT_SEEDS)} (the procedural houses' "
                    "splits; with scenes=[...] any name)", self.split)
        else:
            require(len(self.scenes) > 0, "scenes", "a non-empty list of scene paths, or null", list(self.scenes))
            require(bool(self.split) and "/" not in self.split, "split", "a file name (no '/')", self.split)


def write_episodes(task: TaskConfig, split: str, num_episodes: int, out: str | Path, sim_values: dict,
                   backend: str = "embedded", scenes: list[str] | None = None, layout: str = "single") -> Path:
    """Sample ``num_episodes`` episodes (in ``scenes``, or in the houses of ``split``, taken from the cache when
    there) and write ``out/<split>.json.gz`` in ``layout``."""
    if scenes is None:
        cached = ensure_dataset(task, split, num_episodes, task_sim_config(task, sim_values), backend)
        dataset = load_dataset(cached, task.name)
        dataset.episodes = dataset.episodes[:num_episodes]
    else:
        dataset = generate_scene_dataset(task, list(scenes), num_episodes, backend=backend, sim_overrides=sim_values)
    return dataset.save(Path(out) / f"{split}.json.gz", layout=layout)


@hydra.main(version_base=None, config_path="conf", config_name="episodes")
def main(cfg: DictConfig) -> None:
    values = OmegaConf.to_container(cfg, resolve=True)
    task, sim = TaskConfig.from_mapping(values.pop("task")), {k: v for k, v in values.pop("sim").items()
                                                               if v is not None}
    settings = build(EpisodesConfig, values, "")
    backend = sim.pop("backend", "embedded")
    path = write_episodes(task, settings.split, settings.num_episodes, settings.out, sim, backend,
                          list(settings.scenes) if settings.scenes is not None else None, settings.layout)
    scenes_dir = sim.get("scenes_dir")
    print(f"{len(load_dataset(path, task.name, scenes_dir).episodes)} {task.name} episodes ({settings.split}) "
          f"in {path}")


if __name__ == "__main__":
    main()
