"""The categories of contributing factors: built in, or read from MUSTER_CONTRIBUTING_FACTORS."""

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from app.core.structured import duplicated, read_structured

KEY_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"


class Category(BaseModel):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = Field(min_length=1, max_length=200)


class Taxonomy(BaseModel):
    categories: list[Category] = Field(min_length=1, max_length=100)

    @field_validator("categories")
    @classmethod
    def _unique_keys(cls, categories: list[Category]) -> list[Category]:
        if problem := duplicated(category.key for category in categories):
            raise ValueError(problem)
        return categories

    @property
    def keys(self) -> list[str]:
        return [category.key for category in self.categories]


# The organisational findings first (what the SRE team learned across incidents),
# then the technical causes every retrospective names.
DEFAULT_TAXONOMY = Taxonomy(
    categories=[
        Category(key="nfr_not_verified", label="Non-functional requirements not verified"),
        Category(key="observability_gap", label="Missing metrics, logs or traces"),
        Category(
            key="deploy_knowledge_not_shared",
            label="Deploy tooling and its rules not known to the developers",
        ),
        Category(key="key_person_dependency", label="Operations depend on a few people"),
        Category(key="code_change", label="Code change"),
        Category(key="config_change", label="Configuration change"),
        Category(key="capacity", label="Capacity"),
        Category(key="dependency_failure", label="A dependency failed"),
        Category(key="infrastructure", label="Infrastructure"),
        Category(key="process", label="Process"),
    ]
)


class InvalidTaxonomy(RuntimeError):
    pass


def _parse(raw: object) -> Taxonomy:
    # A list of keys, a list of {key, label}, or {categories: [...]}.
    if isinstance(raw, list):
        raw = {
            "categories": [
                {"key": item, "label": item.replace("_", " ").capitalize()}
                if isinstance(item, str)
                else item
                for item in raw
            ]
        }
    return Taxonomy.model_validate(raw)


def load_taxonomy(setting: str | None) -> Taxonomy:
    """The taxonomy the setting names: inline JSON, or the path of a YAML or JSON file."""
    if setting is None or not setting.strip():
        return DEFAULT_TAXONOMY
    text = setting.strip()
    try:
        if text.startswith(("[", "{")):
            return _parse(json.loads(text))
        return _parse(read_structured(Path(text)))
    except (OSError, ValueError, yaml.YAMLError, ValidationError) as exc:
        raise InvalidTaxonomy(
            f"MUSTER_CONTRIBUTING_FACTORS={setting} is not a usable list of categories: {exc}"
        ) from exc
