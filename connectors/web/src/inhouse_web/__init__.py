"""inhouse-web: the ``web`` connector (``inhouse.connectors``) and the web-page parser
(``inhouse.parsers``).

:class:`inhouse_web.connector.WebConnector` crawls one site from a start page and/or a
sitemap (``crawl``: same site, robots.txt, breadth first; ``client``: polite HTTP with a rate,
time and size limit, redirects within the site only; ``links``: links, robots ``<meta>`` and
sitemaps; ``urls``: canonical URLs; ``state``: validators and links kept between crawls, so
an unchanged site is re-crawled with 304s and no bodies). :class:`inhouse_web.parser.WebPageParser`
extracts a page's main text with trafilatura.
"""
