"""python -m nn.predict MODEL IMAGE... (see nn.predict.cli)."""

import sys

from nn.predict.cli import main

sys.exit(main())
