"""Datasets: prompt imports, snapshots (the request in ``snapshots``, the build in ``snapshot_job``),
their files (``exports``) and downloads. Outside code imports this package only.
"""

from curation.services.datasets.downloads import (
    CONTENT_TYPES,
    Representation,
    Unavailable,
    accepts_gzip,
    etag_matches,
    parse_range,
    representation,
)
from curation.services.datasets.exports import (
    FORMATS,
    LINE_FORMATS,
    SPLITS,
    BuildCancelled,
    copy_statement,
    snapshot_dir,
)
from curation.services.datasets.imports import ImportRejected, import_prompts, upload_too_big
from curation.services.datasets.snapshot_job import build_snapshot, fail_snapshot, run_build_job
from curation.services.datasets.snapshots import (
    MAX_NAME,
    MAX_SYSTEM_PROMPT,
    MAX_VALIDATION_FRACTION,
    SEED_RANGE,
    start_snapshot,
)

__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "LINE_FORMATS",
    "MAX_NAME",
    "MAX_SYSTEM_PROMPT",
    "MAX_VALIDATION_FRACTION",
    "SEED_RANGE",
    "SPLITS",
    "BuildCancelled",
    "ImportRejected",
    "Representation",
    "Unavailable",
    "accepts_gzip",
    "build_snapshot",
    "copy_statement",
    "etag_matches",
    "fail_snapshot",
    "import_prompts",
    "parse_range",
    "representation",
    "run_build_job",
    "snapshot_dir",
    "start_snapshot",
    "upload_too_big",
]
