"""constructs_lib: AWS CDK constructs that make Lambda failure handling correct by default.

Exports are loaded lazily, so the pure modules (``limits``, ``errors``, ``records``) and the runtime tools
import without starting jsii.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AsyncInvocation": "constructs_lib.async_invocation",
    "DEFAULT_FAILURE_QUEUE": "constructs_lib.failure_queue",
    "FailureBucket": "constructs_lib.failure_bucket",
    "FailureHandlingChecks": "constructs_lib.nag",
    "FailureQueue": "constructs_lib.failure_queue",
    "INFINITE": "constructs_lib.limits",
    "KafkaAuthentication": "constructs_lib.limits",
    "KafkaConsumer": "constructs_lib.kafka_consumer",
    "QueueConsumer": "constructs_lib.queue_consumer",
    "StreamConsumer": "constructs_lib.stream_consumer",
    "ValidationError": "constructs_lib.errors",
    "Violation": "constructs_lib.errors",
}

__all__ = [  # noqa: RUF022 - grouped as in _EXPORTS
    "AsyncInvocation",
    "DEFAULT_FAILURE_QUEUE",
    "FailureBucket",
    "FailureHandlingChecks",
    "FailureQueue",
    "INFINITE",
    "KafkaAuthentication",
    "KafkaConsumer",
    "QueueConsumer",
    "StreamConsumer",
    "ValidationError",
    "Violation",
]

if TYPE_CHECKING:
    from constructs_lib.async_invocation import AsyncInvocation
    from constructs_lib.errors import ValidationError, Violation
    from constructs_lib.failure_bucket import FailureBucket
    from constructs_lib.failure_queue import DEFAULT_FAILURE_QUEUE, FailureQueue
    from constructs_lib.kafka_consumer import KafkaConsumer
    from constructs_lib.limits import INFINITE, KafkaAuthentication
    from constructs_lib.nag import FailureHandlingChecks
    from constructs_lib.queue_consumer import QueueConsumer
    from constructs_lib.stream_consumer import StreamConsumer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
