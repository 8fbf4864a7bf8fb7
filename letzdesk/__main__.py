import sys

from letzdesk.cli import main

sys.exit(main())
