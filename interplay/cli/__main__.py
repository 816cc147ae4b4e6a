"""`python -m interplay.cli` runs the command line."""

from interplay.cli.app import main

main()
