"""inhouse-filesystem: the ``filesystem`` connector (``inhouse.connectors``).

:class:`inhouse_filesystem.connector.FilesystemConnector` yields every file under a folder
that its ``include``/``exclude`` globs select, with stable ids, content hashes and the
table's ``acl``; ``open`` reads an original back, refusing paths outside the folder.
"""
