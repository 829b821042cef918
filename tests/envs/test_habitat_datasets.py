"""habitat-lab's dataset layouts, written and read: basename-keyed goals, the per-scene content/ layout, and
relative scene ids under sim.scenes_dir; older v4s files still load."""

from __future__ import annotations

import gzip
import json

import pytest
from scene_fixtures import write_zup_room

from v4s.envs.nav_env import NavEnv
from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import generate_scene_dataset
from v4s.envs.tasks.episodes import EpisodeFileError, dataset_digest, dataset_files, load_dataset
from v4s.fileio import digest_path

SMALL = {"width": 64, "height": 64}
SCENES = ["rooms/zup_room.glb", "rooms/zup_room_b.glb"]


@pytest.fixture(scope="module")
def scenes_dir(tmp_path_factory):
    """Two z-up rooms under one scenes folder, as a scene dataset would lie on disk."""
    root = tmp_path_factory.mktemp("scene_datasets")
    for name in ("zup_room", "zup_room_b"):
        write_zup_room(root / "rooms", name=name)
    return root


@pytest.fixture(scope="module")
def sampled(scenes_dir):
    """Two episodes per room and task, named by relative scene ids."""
    sim = {**SMALL, "scenes_dir": str(scenes_dir)}
    return {name: generate_scene_dataset(task_config({"name": name, "context_frames": 4}), SCENES, 4,
                                         sim_overrides=sim, progress=False) for name in ("objectnav", "posenav")}


def _raw(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump(data, f)


def _summary(dataset):
    return [(ep.episode_id, ep.scene_id, ep.object_category, ep.start_position, ep.start_rotation,
             [g.position for g in ep.goals]) for ep in dataset.episodes]


def _habitat_lab_objectnav(sampled, out):
    """The sampled ObjectNav episodes as habitat-lab lays out ObjectNav-v1 (HM3D's v1 val): a top-level file with
    the category maps and no episodes, one content file per scene whose episodes count from 0 and whose goals are
    keyed '<scene basename>_<category>'; one scene's ids carry habitat-lab's data/scene_datasets/ prefix."""
    categories = {"chair": 0, "bed": 1}
    _write(out / "val.json.gz", {"episodes": [], "category_to_task_category_id": categories,
                                 "category_to_scene_annotation_category_id": categories})
    for scene, prefix in zip(SCENES, ("data/scene_datasets/", "")):
        episodes = [ep for ep in sampled.episodes if ep.scene_id == scene]
        raw = [{**ep.to_json(), "episode_id": str(i), "scene_id": prefix + scene, "instruction": None}
               for i, ep in enumerate(episodes)]
        goals = {f"{scene.split('/')[-1]}_chair": [g.to_json() for g in episodes[0].goals]}
        _write(out / "content" / f"{scene.split('/')[-1][:-4]}.json.gz",
               {"episodes": raw, "goals_by_category": goals, "category_to_task_category_id": categories,
                "category_to_scene_annotation_category_id": categories})
    return out / "val.json.gz"


def test_habitat_lab_objectnav_layout_runs(sampled, scenes_dir, tmp_path):
    path = _habitat_lab_objectnav(sampled["objectnav"], tmp_path / "objectnav_v1" / "val")
    dataset = load_dataset(path, scenes_dir=scenes_dir)
    assert dataset.task == "objectnav" and dataset.categories == ("chair", "bed")
    # each content file counts its episodes from 0, so ids are qualified by the file's scene
    assert [ep.episode_id for ep in dataset.episodes] == ["zup_room:0", "zup_room:1", "zup_room_b:0", "zup_room_b:1"]
    assert [ep.start_position for ep in dataset.episodes] == [ep.start_position for ep in sampled["objectnav"].episodes]
    assert all(ep.goals and ep.goals[0].object_category == "chair" for ep in dataset.episodes)
    assert dataset_files(path)[1:] == [path.parent / "content" / "zup_room.json.gz",
                                       path.parent / "content" / "zup_room_b.json.gz"]

    env = NavEnv({"name": "objectnav", "categories": ["chair", "bed"], "context_frames": 4}, dataset=path,
                 sim={**SMALL, "scenes_dir": str(scenes_dir)})
    try:
        _, info = env.reset(options={"episode_id": "zup_room_b:1"})
        assert info["scene_id"] == "rooms/zup_room_b.glb" and info["object_category"] == "chair"
        assert info["distance_to_goal"] == pytest.approx(sampled["objectnav"].episodes[3].info["geodesic_distance"],
                                                         abs=0.05)
    finally:
        env.close()


def test_relative_scene_ids_need_scenes_dir(sampled, tmp_path, monkeypatch):
    path = _habitat_lab_objectnav(sampled["objectnav"], tmp_path / "val")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EpisodeFileError, match=r"content/zup_room.json.gz: episodes\[0\].scene_id: scene file not "
                                               r"found: .*rooms/zup_room.glb \(relative to the working directory; set "
                                               r"sim.scenes_dir"):
        load_dataset(path)


def test_an_empty_top_level_file_without_content(sampled, tmp_path):
    path = tmp_path / "val.json.gz"
    _write(path, {"episodes": []})
    assert load_dataset(path, "posenav").episodes == []
    env = NavEnv("posenav", dataset=path, sim=SMALL)
    with pytest.raises(RuntimeError, match=r"val.json.gz has no episodes \(a per-scene dataset keeps them in "
                                           r"content/<scene>.json.gz"):
        env.reset()
    env.close()


@pytest.mark.parametrize("name", ["objectnav", "posenav"])
def test_both_layouts_round_trip(sampled, scenes_dir, tmp_path, name):
    dataset = sampled[name]
    single = load_dataset(dataset.save(tmp_path / "single" / "mine.json.gz"), scenes_dir=scenes_dir)
    content_path = dataset.save(tmp_path / "content" / "mine.json.gz", layout="content")
    per_scene = load_dataset(content_path, scenes_dir=scenes_dir)
    assert _summary(single) == _summary(per_scene) == _summary(dataset)
    assert [ep.episode_id for ep in single.episodes] == ["0", "1", "2", "3"]  # unique ids are kept as written

    top = _raw(content_path)
    assert top["episodes"] == [] and top["v4s_task"] == name
    files = sorted(p.name for p in (tmp_path / "content" / "content").iterdir())
    assert files == ["zup_room.json.gz", "zup_room_b.json.gz"]
    scene_file = _raw(tmp_path / "content" / "content" / "zup_room_b.json.gz")
    assert {ep["scene_id"] for ep in scene_file["episodes"]} == {"rooms/zup_room_b.glb"}
    if name == "objectnav":  # habitat-lab's goals_key: the scene's basename
        assert set(_raw(tmp_path / "single" / "mine.json.gz")["goals_by_category"]) == \
            {"zup_room.glb_chair", "zup_room_b.glb_chair"}
        assert set(scene_file["goals_by_category"]) == {"zup_room_b.glb_chair"}
        assert list(scene_file["category_to_task_category_id"]) == list(task_config(name).categories)

    # the digest covers every file: a content file that changes changes it
    assert dataset_digest(tmp_path / "single" / "mine.json.gz") == digest_path(tmp_path / "single" / "mine.json.gz")
    before = dataset_digest(content_path)
    scene_file["episodes"][0]["start_rotation"] = [0.0, 1.0, 0.0, 0.0]
    _write(tmp_path / "content" / "content" / "zup_room_b.json.gz", scene_file)
    assert dataset_digest(content_path) != before


def test_content_of_other_scenes_is_refused(sampled, tmp_path):
    _write(tmp_path / "content" / "somewhere_else.json.gz", {"episodes": []})
    with pytest.raises(FileExistsError, match=r"content holds episodes of other scenes \(somewhere_else.json.gz\)"):
        sampled["posenav"].save(tmp_path / "mine.json.gz", layout="content")


def test_older_v4s_files_keyed_by_scene_id_still_load(sampled, scenes_dir, tmp_path):
    path = sampled["objectnav"].save(tmp_path / "new.json.gz")
    data = _raw(path)
    data["goals_by_category"] = {f"{scene}_chair": data["goals_by_category"][f"{scene.split('/')[-1]}_chair"]
                                 for scene in SCENES}
    _write(tmp_path / "old.json.gz", data)
    assert _summary(load_dataset(tmp_path / "old.json.gz", scenes_dir=scenes_dir)) == _summary(sampled["objectnav"])


def test_scenes_sharing_a_file_name_cannot_share_goal_keys(sampled, scenes_dir, tmp_path):
    dataset = load_dataset(sampled["objectnav"].save(tmp_path / "a.json.gz"), scenes_dir=scenes_dir)
    dataset.episodes[2].scene_id = "elsewhere/zup_room.glb"
    with pytest.raises(ValueError, match=r"scenes 'rooms/zup_room.glb' and 'elsewhere/zup_room.glb' share the file "
                                         r"name 'zup_room.glb'"):
        dataset.save(tmp_path / "b.json.gz")
