"""Run the command line with `python -m letterhead`."""

from letterhead.main import main

raise SystemExit(main())
