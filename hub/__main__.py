"""Run the `hub` command as `python -m hub`: the console script's twin, an entry point that nothing imports (the
one module of `hub` that reaches the composition root)."""

from service.cli.main import main

main()
