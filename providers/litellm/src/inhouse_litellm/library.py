"""LiteLLM, imported on first use and kept offline.

Importing ``inhouse_litellm`` loads nothing and changes no setting; the first generation (or
``warm_up``, ``check``, ``count_tokens``, ``price``) calls :func:`load`, which sets
:data:`OFFLINE_ENVIRONMENT` before LiteLLM is imported, so LiteLLM reads its bundled model cost
map, anthropic beta headers and tokenizers instead of fetching them from GitHub or the Hugging
Face hub. Its debug banners (links to its documentation printed on stdout) are switched off.
A process that imported LiteLLM itself before this ran may already have fetched the cost map.

LiteLLM's process-wide callbacks (``litellm.callbacks``, ``success_callback``, ...) send every
prompt and answer to a logging service; :func:`callbacks_set` names those an application set,
and the provider refuses to call a model while any is.
"""

from __future__ import annotations

import os
from functools import cache
from types import ModuleType

#: Set before LiteLLM is imported: no remote cost map, no remote catalogues or tokenizers.
OFFLINE_ENVIRONMENT = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}
#: LiteLLM's public, process-wide callback lists: each entry receives every call's prompt and answer.
CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "input_callback", "service_callback")


@cache
def load() -> ModuleType:
    """The ``litellm`` module, imported now (once) with :data:`OFFLINE_ENVIRONMENT` set."""
    os.environ.update(OFFLINE_ENVIRONMENT)
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def callbacks_set(litellm: ModuleType) -> list[str]:
    """The names of LiteLLM's callback lists that hold anything (``litellm.success_callback``, ...)."""
    return [f"litellm.{name}" for name in CALLBACK_LISTS if getattr(litellm, name, None)]
