"""inhouse-ray: ingestion on Ray (``inhouse ingest --ray``, ``inhouse sync --ray``).

Parsing and chunking run as Ray tasks and embedding in a pool of batched embedder actors, on a
local Ray or a cluster; the index written is the one a single-process ingest writes. The
engine is :class:`inhouse_ray.engine.RayEngine` (entry point ``ray`` of ``inhouse.engines``),
its settings the ``[ray]`` table (:class:`inhouse_ray.settings.RaySettings`).
"""
