from .artifacts import EvalReport, ModelVersion, Snapshot, SnapshotRow
from .audit import AppendOnly, AuditEntry
from .capture import CapturedRequest
from .data import Example, ExampleStatus, GoldItem, ModelSpec, Prompt, RedactionEvent, TeacherSample, Verdict
from .drift import DriftReport
from .experiments import Experiment, ExperimentRun
from .jobs import Job, JobAttempt, MetricPoint
from .pairwise import PairComparison, PairItem, PairVerdict
from .project import POOL_STAGE, ROLE_RANK, Membership, Project, Role, Stage, Tier
from .review import BulkAction
from .tokens import ApiToken
from .webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "POOL_STAGE",
    "ROLE_RANK",
    "ApiToken",
    "AppendOnly",
    "AuditEntry",
    "BulkAction",
    "CapturedRequest",
    "DriftReport",
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
    "RedactionEvent",
    "Role",
    "Snapshot",
    "SnapshotRow",
    "Stage",
    "TeacherSample",
    "Tier",
    "Verdict",
    "WebhookDelivery",
    "WebhookEndpoint",
]
