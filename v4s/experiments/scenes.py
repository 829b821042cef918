"""``v4s-scenes split=<train|val|test> num=<N> out=<DIR>``: generate procedural houses.

Writes ``DIR/<scene_id>/<scene_id>.glb`` and ``DIR/<scene_id>/<scene_id>.semantic.json``
for houses ``start .. start+num-1`` of the split. Houses already on disk are kept
(``overwrite=true`` regenerates them), so an interrupted run resumes.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig
from tqdm import tqdm

from v4s.envs.scenes.procedural import write_house
from v4s.envs.scenes.spec import house_seed, split_scene_ids
from v4s.typed_config import require


def generate(split: str, num: int, out: str | Path, start: int = 0, overwrite: bool = False) -> list[Path]:
    """Generate the houses; returns the GLB paths."""
    out = Path(out)
    glbs = []
    for scene_id in tqdm(split_scene_ids(split, num, start), desc=f"houses ({split})", unit="house"):
        folder = out / scene_id
        glb, semantic = folder / f"{scene_id}.glb", folder / f"{scene_id}.semantic.json"
        if overwrite or not (glb.is_file() and semantic.is_file()):
            glb, _ = write_house(house_seed(scene_id), folder, scene_id=scene_id)
        glbs.append(glb)
    return glbs


@hydra.main(version_base=None, config_path="conf", config_name="scenes")
def main(cfg: DictConfig) -> None:
    for key in ("num", "start"):
        value = cfg[key]
        require(isinstance(value, int) and not isinstance(value, bool) and value >= (key == "num"), key,
                "a positive integer" if key == "num" else "an integer of at least 0", value)
    require(isinstance(cfg.overwrite, bool), "overwrite", "true or false", cfg.overwrite)
    glbs = generate(cfg.split, cfg.num, cfg.out, start=cfg.start, overwrite=cfg.overwrite)
    print(f"{len(glbs)} {cfg.split} houses in {Path(cfg.out).resolve()}")


if __name__ == "__main__":
    main()
