import sys

from lsconform.cli import main

sys.exit(main())
