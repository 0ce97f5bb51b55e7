import json
import subprocess
import sys

# In a fresh interpreter: the test process's heap may hold freed memory a new array reuses.
SCRIPT = """
import json, time
import numpy as np
from workers.memory import PeakRSS
big = np.ones(60 * 2**20 // 8); big += 1; del big  # an earlier peak of the process, given back
with PeakRSS(every_s=0.01) as peak:
    block = np.ones(40 * 2**20 // 8); block += 1
    time.sleep(0.2)
    inside = peak._rss_mb()
    del block
print(json.dumps({"start": peak.start_mb, "peak": peak.peak_mb, "inside": inside, "after": peak._rss_mb()}))
"""


def test_the_peak_is_the_blocks_own_and_outlives_the_memory_it_measured():
    out = json.loads(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout)
    assert out["peak"] >= out["inside"] > out["start"] + 30  # 40 MiB touched inside the block
    assert out["peak"] > out["after"] + 30  # freed before the block ended, still counted
