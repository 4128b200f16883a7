"""`python -m tongban` is the `tongban` command."""

from tongban.cli import app

app(prog_name="tongban")
