"""``python -m simjobs``: the same as the ``simjobs`` command."""

import sys

from .cli import main

sys.exit(main())
