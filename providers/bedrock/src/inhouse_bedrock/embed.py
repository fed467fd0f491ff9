"""``bedrock-embed``: Titan Text Embeddings V2 and Cohere Embed v3 on Bedrock."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from inhouse.plugins import Embedder
from inhouse_bedrock.aws import AwsConfig, BedrockPlugin

COHERE_BATCH = 96  # texts per Cohere request
COHERE_CHARS = 2048  # characters per Cohere text
TITAN_CHARS = 50_000  # characters per Titan request


class BedrockEmbedder(BedrockPlugin, Embedder):
    """Embeddings from Bedrock: documents and queries are told apart for Cohere
    (``search_document`` / ``search_query``); Titan's vector size is configurable."""

    class Config(AwsConfig):
        """``[embedder]`` with ``use = "bedrock-embed"``."""

        model: str = "amazon.titan-embed-text-v2:0"
        dimensions: Literal[256, 512, 1024] = Field(1024, description="Titan V2 only; Cohere v3 is always 1024")
        concurrency: int = Field(8, ge=1, le=64, description="Titan takes one text per request: parallel requests")

        @model_validator(mode="after")
        def _family(self) -> BedrockEmbedder.Config:
            if _family(self.model) == "cohere" and self.dimensions != 1024:
                raise ValueError("dimensions: Cohere Embed v3 vectors have 1024 dimensions")
            if _family(self.model) is None:
                raise ValueError(f"model: {self.model} is not a Titan Text Embeddings V2 or Cohere Embed v3 model")
            return self

    def __init__(self, config: Config | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.family = _family(self.config.model)
        self._pool: ThreadPoolExecutor | None = None
        self._usage_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """The Bedrock model and vector size (the store rebuilds when either changes)."""
        return f"bedrock:{self.config.model}:{self.dimension}"

    @property
    def dimension(self) -> int:
        """1024 for Cohere; the configured ``dimensions`` for Titan."""
        return self.config.dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (Cohere: ``search_document``)."""
        return self._embed(list(texts), "search_document")

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query (Cohere: ``search_query``)."""
        return self._embed([text], "search_query")[0]

    def _embed(self, texts: list[str], input_type: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.family == "cohere":
            batches = [texts[i : i + COHERE_BATCH] for i in range(0, len(texts), COHERE_BATCH)]
            rows = [row for batch in batches for row in self._cohere(batch, input_type)]
        elif len(texts) == 1:
            rows = [self._titan(texts[0])]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="bedrock-embed")
            rows = list(self._pool.map(self._titan, texts))
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body)

        def invoke() -> dict[str, Any]:
            response = self.aws.client.invoke_model(
                modelId=self.config.model, body=payload, contentType="application/json", accept="application/json"
            )
            return json.loads(response["body"].read())

        return self.aws.call(invoke)

    def _titan(self, text: str) -> list[float]:
        body = {"inputText": text[:TITAN_CHARS] or " ", "dimensions": self.config.dimensions, "normalize": True}
        result = self._invoke(body)
        with self._usage_lock:
            self.usage.input_tokens += int(result.get("inputTextTokenCount", 0))
        return result["embedding"]

    def _cohere(self, texts: list[str], input_type: str) -> list[list[float]]:
        body = {"texts": [t[:COHERE_CHARS] or " " for t in texts], "input_type": input_type, "truncate": "END"}
        result = self._invoke(body)
        with self._usage_lock:  # Cohere reports no token count: estimated
            self.usage.input_tokens += sum(max(1, len(t) // 4) for t in body["texts"])
        return result["embeddings"]

    def close(self) -> None:
        """Stop the worker threads and close the HTTP connection pool."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        super().close()


def _family(model: str) -> str | None:
    name = model.rsplit("/", 1)[-1]
    if "titan-embed-text-v2" in name:
        return "titan"
    if "cohere.embed" in name:
        return "cohere"
    return None
