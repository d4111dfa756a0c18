"""The monthly cycle's typed contract: pregnancy tests, counseling, comprehension questions and
contraception (rules §3 to §5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, Strict, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from registry.contract import Day, Flag, Input, Output
from registry.cycles.models import ComprehensionAttempt, ComprehensionQuestion, Cycle
from registry.pregnancies.models import (
    PregnancyTest,
    PregnancyTestPurpose,
    PregnancyTestResult,
    PregnancyTestSetting,
)
from registry.rules.contraception import ALL_METHODS, MINI_PILL

METHOD_NAMES = [*ALL_METHODS, MINI_PILL]


def _method(value: str) -> str:
    if value not in METHOD_NAMES:
        raise PydanticCustomError("enum", "Must be one of: {expected}.",
                                  {"expected": ", ".join(METHOD_NAMES)})
    return value


Method = Annotated[str, Strict(), AfterValidator(_method),
                   WithJsonSchema({"type": "string", "enum": METHOD_NAMES})]


class Contraception(Input):
    """Two methods (at least one primary; never the mini-pill), or a commitment to abstinence.
    Whether the choice is acceptable is the rules' decision (rules §3)."""

    methods: Annotated[list[Method] | None, Field(max_length=2)] = None
    abstinence: Flag = False


class PregnancyTestEntry(Input):
    specimen_collected_on: Day
    result: PregnancyTestResult
    setting: PregnancyTestSetting


class CounselingEntry(Input):
    counseled_on: Day
    contraception: Annotated[Contraception | None, Field(
        description="Required for a patient who can get pregnant.")] = None


ChoiceId = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=40)]


class ComprehensionAnswers(Input):
    answers: Annotated[dict[str, ChoiceId], Field(
        description="Question id → choice id, for every question asked.",
        json_schema_extra={"propertyNames": {"pattern": "^[0-9]{1,10}$"}})]


# --- answers -------------------------------------------------------------------------------


class PregnancyTestOut(Output):
    id: int
    purpose: PregnancyTestPurpose
    result: PregnancyTestResult
    cycle_id: int | None

    @classmethod
    def of(cls, test: PregnancyTest, cycle: Cycle | None) -> PregnancyTestOut:
        return cls(id=test.id, purpose=PregnancyTestPurpose(test.purpose),
                   result=PregnancyTestResult(test.result),
                   cycle_id=cycle.id if cycle else None)


class CounselingOut(Output):
    id: int
    cycle_id: int | None
    counseled_on: date
    window_closes_on: date | None


class ChoiceOut(Output):
    id: str
    text: str


class QuestionOut(Output):
    id: int
    text: str
    choices: list[ChoiceOut]


class QuestionsOut(Output):
    """The questions and their choices, never the correct answers."""

    cycle_id: int | None
    questions: list[QuestionOut]

    @classmethod
    def of(cls, cycle: Cycle | None, questions: list[ComprehensionQuestion]) -> QuestionsOut:
        return cls(cycle_id=cycle.id if cycle else None, questions=[
            QuestionOut(id=q.id, text=q.text, choices=[
                ChoiceOut(id=str(c["id"]), text=c["text"]) for c in q.choices])
            for q in questions])


class ComprehensionResultOut(Output):
    passed: bool
    incorrect: list[int]
    cycle_id: int | None

    @classmethod
    def of(cls, attempt: ComprehensionAttempt) -> ComprehensionResultOut:
        return cls(passed=attempt.passed, incorrect=[int(i) for i in attempt.incorrect],
                   cycle_id=attempt.cycle_id)


class ContraceptionOut(Output):
    matches_prescriber: bool
    cycle_id: int | None

