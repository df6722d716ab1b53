"""``python -m cfutils.distributed --master URL --data PATH --output-dir DIR``: :mod:`cfutils.distributed.job`."""

import sys

from cfutils.distributed.job import main

sys.exit(main())
