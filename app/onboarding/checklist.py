"""The onboarding checklist: the steps vendor and partner agree on the way to go-live (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class StepDefinition:
    key: str
    title: str
    owner: str  # who does it by default: vendor | partner


STEPS: tuple[StepDefinition, ...] = (
    StepDefinition("product_demo", "Product demonstration and sign-off", "vendor"),
    StepDefinition("poc_testing", "Proof-of-concept testing", "partner"),
    StepDefinition("contract", "Contract", "vendor"),
    StepDefinition("licensing_method", "Licensing method agreed", "partner"),
    StepDefinition("naming_and_images", "Product naming and images confirmed", "partner"),
    StepDefinition("pdc_test_cycle", "PDC development and test cycle", "vendor"),
    StepDefinition("provisional_go_live", "Provisional go-live date", "partner"),
    StepDefinition("licensing_service", "Licensing service set up", "vendor"),
    StepDefinition("training", "Sales and support training", "vendor"),
    StepDefinition("launch_planning", "Launch planning", "partner"),
    StepDefinition("go_live", "Go-live", "vendor"),
)
STEP_KEYS = tuple(step.key for step in STEPS)
STEP_STATUSES = ("todo", "in_progress", "done", "skipped")
OWNERS = ("vendor", "partner")
MAX_NOTE = 2000


def step_definition(key: str) -> StepDefinition | None:
    """The definition of step ``key``, or None for an unknown key."""
    return next((step for step in STEPS if step.key == key), None)


def step_problems(values: dict[str, Any]) -> dict[str, list[str]]:
    """Every rule a step's new ``values`` break, by field (empty when valid)."""
    problems: dict[str, list[str]] = {}
    if values.get("status") not in STEP_STATUSES:
        problems["status"] = [f"Must be one of {', '.join(STEP_STATUSES)}."]
    if values.get("owner") not in OWNERS:
        problems["owner"] = [f"Must be one of {', '.join(OWNERS)}."]
    note = values.get("note")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        problems["note"] = [f"Must be text of at most {MAX_NOTE} characters."]
    for field in ("due_on", "done_on"):
        if values.get(field) is not None and not isinstance(values[field], date):
            problems[field] = ["Must be a date like 2026-12-01, or null."]
    if values.get("done_on") is not None and values.get("status") != "done":
        problems["done_on"] = ["Only a done step has a done date."]
    return problems
