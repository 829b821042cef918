"""Everything about the world: scenes, simulators, tasks and the Gymnasium env.

Importing this package registers the env ids ``v4s/ObjectNav-v0`` and ``v4s/PoseNav-v0``
(the env module itself is imported when an env is made), each with its task's
``max_episode_steps``, so ``gym.make`` adds gymnasium's ``TimeLimit`` and ``env.spec``
says the limit, as for gymnasium's own envs (``gym.make(id, max_episode_steps=N)``
overrides it; the env also truncates at ``task.max_episode_steps`` on its own).
"""

import gymnasium as gym

from v4s.envs.tasks.config import task_config

ENV_IDS = {"v4s/ObjectNav-v0": "objectnav", "v4s/PoseNav-v0": "posenav"}

for _env_id, _task in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point="v4s.envs.nav_env:NavEnv", kwargs={"task": _task},
                     max_episode_steps=task_config(_task).max_episode_steps)
