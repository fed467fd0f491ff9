"""Connectors that ship with the core (the filesystem); others are separate distributions."""
