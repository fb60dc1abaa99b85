"""``python -m imaging_triage`` runs the command line."""

import sys

from imaging_triage.cli import main

sys.exit(main())
