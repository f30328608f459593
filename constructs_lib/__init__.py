"""constructs_lib: AWS CDK constructs that make Lambda failure handling correct by default.

Exports are loaded lazily, so the pure modules (``limits``, ``errors``, ``records``) and the runtime tools
import without starting jsii.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AsyncInvocation": "constructs_lib.async_invocation",
    "DEFAULT_FAILURE_QUEUE": "constructs_lib.async_invocation",
    "FailureQueue": "constructs_lib.failure_queue",
    "INFINITE": "constructs_lib.limits",
    "ValidationError": "constructs_lib.errors",
    "Violation": "constructs_lib.errors",
}

__all__ = [  # noqa: RUF022 - grouped as in _EXPORTS
    "AsyncInvocation",
    "DEFAULT_FAILURE_QUEUE",
    "FailureQueue",
    "INFINITE",
    "ValidationError",
    "Violation",
]

if TYPE_CHECKING:
    from constructs_lib.async_invocation import DEFAULT_FAILURE_QUEUE, AsyncInvocation
    from constructs_lib.errors import ValidationError, Violation
    from constructs_lib.failure_queue import FailureQueue
    from constructs_lib.limits import INFINITE


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
