"""inhouse-sharepoint: the ``sharepoint`` connector (``inhouse.connectors``).

:class:`inhouse_sharepoint.connector.SharePointConnector` yields the files of a SharePoint
site's document libraries through Microsoft Graph (``graph``: app sign-in, throttling,
paging, checked download redirects), incrementally by delta query (``delta``, with the
item state and delta links kept in ``state``), each with the access list its Graph
permissions give through ``user_map``/``group_map`` (``permissions``); ``open`` downloads
only files it yielded.
"""
