"""Self-hosted model plugins for inhouse: TGI, any OpenAI-compatible server (vLLM, TGI's
Messages API, llama.cpp server) and SageMaker endpoints. These are the providers the
``private`` use case routes to."""
