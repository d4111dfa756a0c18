"""What the rules hand back besides yes or no: each failing reason, and who acts next.

The reason codes are :class:`~registry.rules.vocabulary.ReasonCode`; their words are in
:mod:`registry.rules.wording`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from registry.rules.vocabulary import Actor, ReasonCode
from registry.rules.wording import REASON_CODES

__all__ = ["REASON_CODES", "NextStep", "Reason"]


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str
    action: str | None = None
    actor: Actor | None = None
    due_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "action": self.action,
            "actor": self.actor,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


@dataclass(frozen=True)
class NextStep:
    actor: Actor
    action: str
    due_on: date | None = None
    not_before: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }
