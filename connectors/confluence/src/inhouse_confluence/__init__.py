"""inhouse-confluence: the ``confluence`` connector (``inhouse.connectors``).

:class:`inhouse_confluence.connector.ConfluenceConnector` yields the pages (and attachments) of
Confluence Cloud spaces with stable ids, their version as the hash and their view restrictions
as access lists (``restrictions``); ``open`` downloads one page body, as HTML
(``storage``), or one attachment. HTTP, retries and pagination: ``client``.
"""
