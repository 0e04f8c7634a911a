"""The initial-response checklist template: built in, or read from MUSTER_CHECKLIST_TEMPLATE."""

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from app.core.structured import duplicated, read_structured


class TemplateItem(BaseModel):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=200)


class ChecklistTemplate(BaseModel):
    items: list[TemplateItem] = Field(min_length=1, max_length=50)

    @field_validator("items")
    @classmethod
    def _unique_keys(cls, items: list[TemplateItem]) -> list[TemplateItem]:
        if problem := duplicated(item.key for item in items):
            raise ValueError(problem)
        return items

    def extended(self, extra: list[TemplateItem]) -> "ChecklistTemplate":
        """This template followed by the `extra` items whose keys it does not have."""
        items = {item.key: item for item in self.items}
        for item in extra:
            items.setdefault(item.key, item)
        return ChecklistTemplate.model_construct(items=list(items.values()))


DEFAULT_TEMPLATE = ChecklistTemplate(
    items=[
        TemplateItem(key="errors_metrics_checked", label="Error types and metrics checked"),
        TemplateItem(key="recent_releases_reviewed", label="Recent releases reviewed"),
        TemplateItem(key="rollback_decided", label="Rollback decided (yes / no, and why)"),
        TemplateItem(key="commander_assigned", label="Incident commander assigned"),
        TemplateItem(key="sre_joined", label="SRE joined"),
        TemplateItem(key="stakeholders_notified", label="Stakeholders notified"),
        TemplateItem(key="recovery_verified", label="Recovery verified"),
    ]
)


class InvalidChecklistTemplate(RuntimeError):
    pass


def load_template(path: Path | None) -> ChecklistTemplate:
    """The template at `path` (YAML or JSON: a list of {key, label}, or {items: [...]})."""
    if path is None:
        return DEFAULT_TEMPLATE
    try:
        raw = read_structured(path)
        return ChecklistTemplate.model_validate({"items": raw} if isinstance(raw, list) else raw)
    except (OSError, ValueError, yaml.YAMLError, ValidationError) as exc:
        raise InvalidChecklistTemplate(
            f"MUSTER_CHECKLIST_TEMPLATE={path} is not a usable checklist template: {exc}"
        ) from exc
