"""Deterministic procedural houses: a GLB plus ``.semantic.json`` per seed.

A house is 2-6 axis-aligned rooms from a BSP split of a rectangular footprint,
joined by open doorways (a random spanning tree over rooms sharing enough wall,
sometimes plus one loop). Every room gets its own wall and floor texture (distinct
colour and pattern), a type (living room, bedroom, bathroom, kitchen, dining room,
office) and furniture placed by rules for that type. Placement keeps every doorway
clear, keeps the free floor of the whole house one connected region for a cylinder
agent (checked on a 5 cm occupancy grid) and keeps every ObjectNav object visible
from reachable floor within 1 m.

Conventions: metres, y up, floor at y = 0; the house is centred on the origin. The
layout is planned on an integer grid of 5 cm units (``UNIT``) so walls, doors and the
occupancy grid line up exactly. Same seed -> byte-identical files.

Node names in the GLB: ``room_{i:02d}_floor``, ``room_{i:02d}_walls``,
``room_{i:02d}_ceiling``, ``room_{i:02d}_trim`` (skirting, windows, pictures,
ceiling light), ``door_{k:02d}`` (jambs, head, threshold, architraves) and
``object_{id:04d}_{category}`` for every semantic object.

Modules, each importing only the ones listed before it: :mod:`.layout` (the floor plan),
:mod:`.occupancy` (free floor, navigability), :mod:`.placement` (furniture),
:mod:`.structure` (floors, walls, doorways, trim) and :mod:`.assembly` (the scene,
its metadata, GLB export).
"""

from v4s.envs.scenes.procedural.assembly import (
    GENERATOR_NAME,
    GENERATOR_VERSION,
    MAX_TRIANGLES,
    GeneratedHouse,
    export_glb,
    generate_house,
    write_house,
)
from v4s.envs.scenes.procedural.layout import (
    DOOR_CLEAR,
    DOOR_MARGIN,
    MIN_ROOM,
    MIN_SHARED,
    ROOM_TYPES,
    UNIT,
    WALL_T,
    Door,
    HouseLayout,
    Rect,
)
from v4s.envs.scenes.procedural.occupancy import NAV_RADII, VISIBLE_RANGE, Occupancy, navigability
from v4s.envs.scenes.procedural.placement import TALL, WALL_GAP, Placed

__all__ = ["DOOR_CLEAR", "DOOR_MARGIN", "GENERATOR_NAME", "GENERATOR_VERSION", "MAX_TRIANGLES", "MIN_ROOM",
           "MIN_SHARED", "NAV_RADII", "ROOM_TYPES", "TALL", "UNIT", "VISIBLE_RANGE", "WALL_GAP", "WALL_T", "Door",
           "GeneratedHouse", "HouseLayout", "Occupancy", "Placed", "Rect", "export_glb", "generate_house",
           "navigability", "write_house"]
