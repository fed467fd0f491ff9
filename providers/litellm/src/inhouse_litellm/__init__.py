"""Any model LiteLLM reaches as an inhouse provider (``litellm``): Azure OpenAI, Vertex, Mistral,
Cohere, Ollama, Bedrock, ... LiteLLM cannot know where a model runs, so each profile declares its
residency (default ``external``). LiteLLM is imported on first use, offline
(``inhouse_litellm.library``); see ``inhouse_litellm.provider`` for the profile's keys.
"""

from inhouse_litellm.provider import LiteLLMProvider

__all__ = ["LiteLLMProvider"]
