"""Retrieval quality measurement (``inhouse eval``)."""
