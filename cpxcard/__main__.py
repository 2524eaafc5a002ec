"""``python -m cpxcard`` (what bin/cpx-card runs)."""

from cpxcard.cli import main

raise SystemExit(main())
