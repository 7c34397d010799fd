"""``python -m simjobs.cli``: the same as the ``simjobs`` command."""

import sys

from .parser import main

sys.exit(main())
