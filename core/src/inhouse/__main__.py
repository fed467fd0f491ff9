"""``python -m inhouse`` runs the CLI."""

from inhouse.cli import main

main()
