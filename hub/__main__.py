"""Run the `hub` command as `python -m hub`."""

from hub.cli.main import main

main()
