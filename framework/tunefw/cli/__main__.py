"""``python -m tunefw.cli``, the same as the ``tunefw`` command."""

from tunefw.cli.main import main

main()
