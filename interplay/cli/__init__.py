"""The typer command line: thin, it parses, calls the library and renders with rich."""
