"""`python -m lsconform.sandbox`: run a sandbox in the foreground (see `orchestrator`)."""

import sys

from lsconform.sandbox.orchestrator import main

sys.exit(main())
