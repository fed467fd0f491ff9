"""``bedrock-image``: Stability AI models on Bedrock (SD3.5 Large, Stable Image Core and Ultra)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from inhouse.errors import ProviderError
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.types import Usage
from inhouse_bedrock.aws import AwsConfig, BedrockPlugin

AspectRatio = Literal["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]
# Models that take an input image (image-to-image) on Bedrock.
IMAGE_TO_IMAGE = ("stability.sd3-5-large",)


class BedrockImage(BedrockPlugin, Provider):
    """Text-to-image, and image-to-image when the prompt carries an image, through InvokeModel.

    The last user message is the image prompt. Each image comes back as an ``Artifact``
    with its format, seed and finish reason; a content-filtered result is an error that
    says so, never an empty image.
    """

    class Config(AwsConfig):
        """``[providers.NAME]`` with ``use = "bedrock-image"``."""

        model: str = "stability.sd3-5-large-v1:0"
        aspect_ratio: AspectRatio = "1:1"
        output_format: Literal["png", "jpeg", "webp"] = "png"
        negative_prompt: str = ""
        seed: int | None = Field(None, ge=0, le=4294967294, description="default: a random seed per image")
        strength: float = Field(0.7, ge=0, le=1, description="image-to-image: how much the input image may change")

    capabilities = frozenset({"image"})

    @property
    def model_id(self) -> str:
        """The configured Stability model id."""
        return self.config.model

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The model's InvokeModel body for ``prompt``."""
        cfg = self.config
        text = next((m["content"] for m in reversed(prompt.messages) if m["role"] == "user"), "").strip()
        if not text:
            raise ProviderError("an image request needs a text prompt", code="validation")
        body: dict[str, Any] = {"prompt": text[:10000], "output_format": cfg.output_format}
        if prompt.images:
            if not any(m in cfg.model for m in IMAGE_TO_IMAGE):
                msg = f"{cfg.model} does not take an input image; use stability.sd3-5-large-v1:0"
                raise ProviderError(msg, code="validation")
            body.update(mode="image-to-image", image=base64.b64encode(prompt.images[0].data).decode(), strength=cfg.strength)
        else:
            if any(m in cfg.model for m in IMAGE_TO_IMAGE):
                body["mode"] = "text-to-image"
            body["aspect_ratio"] = cfg.aspect_ratio
        if cfg.negative_prompt:
            body["negative_prompt"] = cfg.negative_prompt
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        return body

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Yield the images, then a ``Usage`` counting them."""
        body = json.dumps(self.body(prompt))

        def invoke() -> dict[str, Any]:
            response = self.aws.client.invoke_model(
                modelId=self.config.model, body=body, contentType="application/json", accept="application/json"
            )
            return json.loads(response["body"].read())

        result = self.aws.call(invoke)
        reasons = result.get("finish_reasons") or [None]
        blocked = [r for r in reasons if r]
        images = [i for i in result.get("images") or [] if i]
        if blocked or not images:
            why = blocked[0] if blocked else "no image in the response"
            raise ProviderError(
                f"{self.config.model} returned no image: {why}. The content filter blocks some prompts and images; rephrase it.",
                code="content-filtered" if blocked else "error",
            )
        seeds = result.get("seeds") or []
        for n, image in enumerate(images):
            meta = {"model": self.config.model, "format": self.config.output_format, "finish_reason": None}
            if n < len(seeds):
                meta["seed"] = seeds[n]
            yield Artifact(data=base64.b64decode(image), mime=f"image/{self.config.output_format}", meta=meta)
        yield Usage(images=len(images))
