"""inhouse-filesystem: the ``filesystem`` connector (``inhouse.connectors``).

:class:`inhouse_filesystem.connector.FilesystemConnector` yields every file under a folder
that its ``include``/``exclude`` globs select, with stable ids, content hashes and their
access (the table's ``acl``/``label``, else ``.inhouse-acl`` files: ``aclfiles``); ``open``
reads an original back, refusing paths outside the folder. Only regular files are read
(``regular``): links out of the folder, devices, pipes and sockets are refused.
"""
