import sys

from mulfree.cli import main

sys.exit(main())
