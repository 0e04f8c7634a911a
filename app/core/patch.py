"""PATCH bodies: only the fields sent change, and `null` clears only what may be empty."""

from typing import Any, ClassVar

from pydantic import BaseModel, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError


class Patch(BaseModel):
    """Every field is optional (`X | None = None`); those named in `NOT_NULL` refuse an
    explicit `null` with a 422 naming the field, and the schema shows them without it."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if unknown := cls.NOT_NULL - cls.model_fields.keys():
            raise TypeError(f"{cls.__name__}.NOT_NULL names no field: {sorted(unknown)}")

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.NOT_NULL:
            raise PydanticCustomError("null", "may not be null")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        properties = handler.resolve_ref_schema(schema).get("properties", {})
        for name in cls.NOT_NULL:
            field = properties[name]
            options = [o for o in field.pop("anyOf", []) if o != {"type": "null"}]
            field.pop("default", None)
            if len(options) == 1:
                field.update(options[0])
            elif options:
                field["anyOf"] = options
        return schema
