"""The hydra config package of the v4s apps.

The yaml files hold only overrides; the defaults live in the dataclasses, stored in hydra's ConfigStore
as habitat-lab does: each app's module stores its own schema, and importing this package stores the
``task`` group's (``task/<name>_schema``: a TaskConfig's fields, which ``TaskConfig.from_mapping`` then
checks), so the apps with a task group import it.
"""

from __future__ import annotations

from dataclasses import asdict

from hydra.core.config_store import ConfigStore

from v4s.envs.tasks.config import TASK_CONFIGS


def store_task_schemas() -> None:
    """Store every task's defaults as ``task/<name>_schema``, the node its ``conf/task/<name>.yaml`` extends."""
    for name, kind in TASK_CONFIGS.items():
        ConfigStore.instance().store(group="task", name=f"{name}_schema", node=asdict(kind()))


store_task_schemas()
