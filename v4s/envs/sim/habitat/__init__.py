"""The habitat-sim backend: :mod:`.simulator` (HabitatSim, its PathFinder) and :mod:`.export`
(the stage config and HM3D semantic files habitat-sim loads for a v4s scene).

Neither imports ``habitat_sim`` at module level. The design note: docs/habitat.md.
"""

from v4s.envs.sim.habitat.export import (
    EXPORT_VERSION,
    HM3D_SSD_HEADER,
    MAX_SEMANTIC_ID,
    HabitatSceneFiles,
    export_habitat_semantics,
    hm3d_descriptor,
    linear_to_srgb8,
    read_semantic_glb,
    semantic_color,
    write_semantic_glb,
    write_stage_config,
)
from v4s.envs.sim.habitat.simulator import (
    CONDA_INSTALL,
    NAVMESH_CELL_HEIGHT,
    HabitatPathFinder,
    HabitatSim,
    HabitatVersion,
    convert_observations,
    egl_cuda_devices,
    habitat_gpu_device,
    navmesh_file,
    scene_pathfinder,
    semantic_scene_objects,
)

__all__ = ["CONDA_INSTALL", "EXPORT_VERSION", "HM3D_SSD_HEADER", "MAX_SEMANTIC_ID", "NAVMESH_CELL_HEIGHT",
           "HabitatPathFinder", "HabitatSceneFiles", "HabitatSim", "HabitatVersion", "convert_observations",
           "egl_cuda_devices", "export_habitat_semantics", "habitat_gpu_device", "hm3d_descriptor",
           "linear_to_srgb8", "navmesh_file", "read_semantic_glb", "scene_pathfinder",
           "semantic_color", "semantic_scene_objects", "write_semantic_glb", "write_stage_config"]
