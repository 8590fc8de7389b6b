"""One seconds formatter for the settings page, written twice (Python and the page's script): the same text."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from generation.admin.formatting import duration_ms, percent, seconds

SCRIPT = Path(__file__).resolve().parent.parent / "generation" / "static" / "generation" / "worst_case.js"
# The edge values, ties at every decimal, and every worst case the presets and bounds can make.
VALUES = [0.25, 0.05, 59.95, 3600, 0, 0.125, 0.005, 0.015, 1.005, 2.675, 0.995, 1e-9, 7, 62, 381, 61380,
          *(delay * (2**retries - 1) for delay in (0.1, 0.15, 0.33, 1.0, 2.5, 60) for retries in range(11))]


def script_seconds(values: list[float]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("This test runs the admin's script with Node.js, which is missing: apt-get install nodejs",
                    pytrace=False)
    program = f"const {{ formatSeconds }} = require({json.dumps(str(SCRIPT))});" \
              f"console.log(JSON.stringify({json.dumps(values)}.map(formatSeconds)));"
    result = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


@pytest.mark.process
def test_the_page_and_its_script_write_the_same_seconds():
    assert script_seconds(VALUES) == [seconds(v) for v in VALUES]


@pytest.mark.parametrize(("value", "text"), [
    (0.25, "0.25 s"), (0.05, "0.05 s"), (59.95, "59.95 s"), (3600, "3600 s"), (7.0, "7 s"), (0.125, "0.13 s"),
    (0.995, "1 s"), (1e-9, "0 s"), (-1, "0 s"), (2.675, "2.68 s"), (0.1 * 7, "0.7 s"),
])
def test_it_writes_seconds_to_two_decimals_rounding_half_up(value, text):
    assert seconds(value) == text


@pytest.mark.parametrize(("ms", "text"), [
    (None, "–"), (0, "0 ms"), (999, "999 ms"), (1000, "1.0 s"), (12_345, "12.3 s"), (60_000, "1 min"),
    (7_199_000, "119 min"), (7_500_000, "2 h 5 min"),
])
def test_it_writes_measured_durations_coarser_as_they_grow(ms, text):
    assert duration_ms(ms) == text


def test_it_writes_ratios_as_percentages():
    assert (percent(None), percent(0.6), percent(1 / 6)) == ("–", "60.0%", "16.7%")
