"""`python -m generator` runs the contractgen command line."""

from .cli import main

raise SystemExit(main())
