import sys
from pathlib import Path

import pytest

# The drivers import each other by module name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Figures a test measured (e.g. test_mcu.py's table), printed after the run whatever -s/-q say.
_REPORTS = pytest.StashKey[list]()


@pytest.fixture
def report(request):
    """report(text): shows text in the run's summary."""
    return request.config.stash.setdefault(_REPORTS, []).append


def pytest_terminal_summary(terminalreporter, config):
    for text in config.stash.get(_REPORTS, []):
        terminalreporter.write_line(text)
