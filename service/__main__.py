"""Run the `hub` command as `python -m service`."""

from service.cli.main import main

main()
