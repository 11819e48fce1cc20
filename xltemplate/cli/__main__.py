"""``python -m xltemplate.cli``."""

from . import main

main()
