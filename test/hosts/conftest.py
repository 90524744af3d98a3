import sys
from pathlib import Path

# The drivers import each other by module name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
