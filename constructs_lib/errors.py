"""The error raised for an invalid failure-handling configuration. Pure: no aws_cdk import."""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (construct path), which setting, what is allowed and what was given."""

    path: str
    setting: str
    allowed: str
    given: str

    def __str__(self) -> str:
        return f"{self.path}: {self.setting} must be {self.allowed}, got {self.given}"


class ValidationError(ValueError):
    """Raised at construction time, before any resource exists, with every violation of the construct.

    `violations` holds them as data; the message lists them one per line.
    """

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        if not self.violations:
            raise ValueError("ValidationError needs at least one violation")
        super().__init__("\n".join(str(violation) for violation in self.violations))


def raise_if_any(violations: Iterable[Violation]) -> None:
    """Raise a ValidationError carrying `violations`, if there are any."""
    collected = tuple(violations)
    if collected:
        raise ValidationError(collected)
