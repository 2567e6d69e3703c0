"""``python -m livery_client`` runs the CLI."""

import sys

from livery_client.cli.main import main

sys.exit(main())
