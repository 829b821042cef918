"""Everything about the world: scenes, simulators, tasks and the Gymnasium env.

Importing this package registers the env ids ``v4s/ObjectNav-v0`` and ``v4s/PoseNav-v0``
(the env module itself is imported when an env is made).
"""

import gymnasium as gym

ENV_IDS = {"v4s/ObjectNav-v0": "objectnav", "v4s/PoseNav-v0": "posenav"}

for _env_id, _task in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point="v4s.envs.nav_env:NavEnv", kwargs={"task": _task})
