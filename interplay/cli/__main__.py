"""`python -m interplay.cli` runs the command line."""

from interplay.cli.app import main

if __name__ == "__main__":  # a spawned seed worker imports this module again: it must not run the command
    main()
