"""``v4s-episodes task=<objectnav|posenav> split=<...> num_episodes=<N> out=<DIR>``.

Samples the episodes (habitat-lab's rules, see :mod:`v4s.envs.tasks.dataset`) and
writes ``DIR/<split>.json.gz`` in habitat-lab's PointNav-v1 / ObjectNav-v1 layout,
ready for ``v4s-bench dataset=DIR/<split>.json.gz``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from v4s.envs.scenes.spec import SPLIT_SEEDS
from v4s.envs.tasks.config import TaskConfig
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.envs.tasks.episodes import load_dataset
from v4s.typed_config import require


def write_episodes(task: TaskConfig, split: str, num_episodes: int, out: str | Path, sim_values: dict,
                   backend: str = "embedded") -> Path:
    """Sample (or take from the cache) ``num_episodes`` episodes and write ``out/<split>.json.gz``."""
    sim = task_sim_config(task, sim_values)
    dataset = load_dataset(ensure_dataset(task, split, num_episodes, sim, backend), task.name)
    dataset.episodes = dataset.episodes[:num_episodes]
    keys = {f"{ep.scene_id}_{ep.object_category}" for ep in dataset.episodes}
    dataset.goals_by_category = {k: v for k, v in dataset.goals_by_category.items() if k in keys}
    return dataset.save(Path(out) / f"{split}.json.gz")


@hydra.main(version_base=None, config_path="conf", config_name="episodes")
def main(cfg: DictConfig) -> None:
    values = OmegaConf.to_container(cfg, resolve=True)
    require(values["split"] in SPLIT_SEEDS, "split", f"one of {list(SPLIT_SEEDS)}", values["split"])
    require(isinstance(values["num_episodes"], int) and values["num_episodes"] >= 1, "num_episodes",
            "a positive integer", values["num_episodes"])
    sim = {k: v for k, v in values["sim"].items() if v is not None}
    backend = sim.pop("backend", "embedded")
    path = write_episodes(TaskConfig.from_mapping(values["task"]), values["split"], int(values["num_episodes"]),
                          values["out"], sim, backend)
    print(f"{len(load_dataset(path).episodes)} {values['task']['name']} episodes ({values['split']}) in {path}")


if __name__ == "__main__":
    main()
