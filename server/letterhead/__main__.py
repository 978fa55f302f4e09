"""Run the command line with `python -m letterhead`."""

from letterhead.cli import main

raise SystemExit(main())
