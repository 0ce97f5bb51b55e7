from .artifacts import EvalReport, ModelVersion, Snapshot, SnapshotRow
from .data import Example, ExampleStatus, GoldItem, ModelSpec, Prompt, TeacherSample, Verdict
from .experiments import Experiment, ExperimentRun
from .jobs import Job, JobAttempt, MetricPoint
from .pairwise import PairComparison, PairItem, PairVerdict
from .project import POOL_STAGE, ROLE_RANK, Membership, Project, Role, Stage, Tier
from .review import BulkAction
from .tokens import ApiToken

__all__ = [
    "POOL_STAGE",
    "ROLE_RANK",
    "ApiToken",
    "BulkAction",
    "EvalReport",
    "Example",
    "ExampleStatus",
    "Experiment",
    "ExperimentRun",
    "GoldItem",
    "Job",
    "JobAttempt",
    "Membership",
    "MetricPoint",
    "ModelSpec",
    "ModelVersion",
    "PairComparison",
    "PairItem",
    "PairVerdict",
    "Project",
    "Prompt",
    "Role",
    "Snapshot",
    "SnapshotRow",
    "Stage",
    "TeacherSample",
    "Tier",
    "Verdict",
]
