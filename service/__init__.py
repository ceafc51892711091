"""The composition root: the `hub` command, the one HTTP app, the workers, and `open_resources`.

The only package that imports every other one, and the only place a process is wired: which tasks a queue runs,
which consumers a worker kind starts, which surfaces the app serves, what the retention purge forgets. Nothing in
the project imports it (`hub/__main__.py`, the `python -m hub` twin of the console script, aside).
"""
