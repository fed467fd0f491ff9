"""inhouse-s3: the ``s3`` connector (``inhouse.connectors``).

:class:`inhouse_s3.connector.S3Connector` lists the objects under ``s3://bucket/prefix`` that
its ``include``/``exclude`` globs select, with stable ids and their ETag (plus VersionId) as the
hash, so a re-sync downloads only what changed; access comes from the table, object tags or a
prefix map (``inhouse_s3.access``). Clients, assumed roles and error mapping: ``inhouse_aws``.
"""
