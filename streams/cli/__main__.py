"""``python -m streams.cli``: the same as the ``newsstream`` command."""

from streams.cli.main import main

main()
