"""Dataset audits: screen a whole training dataset, keep what may be used, and prove it.

:func:`audit_dataset` plans shards over the input, runs the shard task on an executor (:class:`LocalExecutor`
or :class:`RayExecutor`), resumes what was already done, and writes keep/exclude outputs in the input's own
format, ``report.html`` and the EU AI Act training-content summary. :func:`screen_batch` exposes the same
per-item logic for other engines (Spark ``mapPartitions``, Ray Data ``map_batches``).
"""

from rightful.audit.executors import Executor, LocalExecutor, RayExecutor, ShardOutcome, make_executor
from rightful.audit.pipeline import AuditOptions, AuditProgress, AuditResult, audit_dataset, load_audit
from rightful.audit.policy import AuditPolicy, Screening, decide
from rightful.audit.shards import Plan, Shard, SourceOptions
from rightful.audit.sources import SUPPORTED, detect
from rightful.audit.stats import AuditTotals
from rightful.audit.summary import merge_summaries
from rightful.audit.task import TaskConfig, run_shard, screen_batch

__all__ = [
    "SUPPORTED",
    "AuditOptions",
    "AuditPolicy",
    "AuditProgress",
    "AuditResult",
    "AuditTotals",
    "Executor",
    "LocalExecutor",
    "Plan",
    "RayExecutor",
    "Screening",
    "Shard",
    "ShardOutcome",
    "SourceOptions",
    "TaskConfig",
    "audit_dataset",
    "decide",
    "detect",
    "load_audit",
    "make_executor",
    "merge_summaries",
    "run_shard",
    "screen_batch",
]
