import sys

from qms.cli import main

sys.exit(main())
