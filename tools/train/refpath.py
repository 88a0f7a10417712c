"""Makes tools/reference importable (its modules import each other by bare name)."""

import os
import sys

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference")
if REFERENCE not in sys.path:
    sys.path.insert(0, REFERENCE)

import numerics  # noqa: E402,F401
