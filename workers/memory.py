"""The peak resident memory (RSS) of this process over a block of work, sampled by a thread.

``resource.getrusage``'s ``ru_maxrss`` is the peak over the process's whole life: in a
long-lived worker that ran a bigger job before, a later job's peak is invisible (its
"growth" reads 0). Sampling the current RSS while the block runs measures that block.
"""

from __future__ import annotations

import threading

import psutil

SAMPLE_EVERY_S = 0.05


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.peak_mb`` (and ``start_mb``), in MiB."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S):
        self.every_s = every_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start_mb = self.peak_mb = 0.0

    def _rss_mb(self) -> float:
        return self._process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __enter__(self) -> PeakRSS:
        self.start_mb = self.peak_mb = self._rss_mb()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())
