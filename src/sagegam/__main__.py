"""``python -m sagegam``: the command line."""

from sagegam.cli import main

main()
