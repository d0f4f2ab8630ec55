"""``with_structured_output`` for ``ChatSmartRouter``: the three OpenAI-style methods.

``function_calling`` (the default) forces one tool call, which every tier model of a
typical config supports; ``json_schema`` sends ``response_format`` with the schema;
``json_mode`` sends ``{"type": "json_object"}`` and relies on the prompt for keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function
from langchain_core.utils.pydantic import is_basemodel_subclass

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

Method = Literal["function_calling", "json_schema", "json_mode"]
METHODS = ("function_calling", "json_schema", "json_mode")


def response_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    """An OpenAI ``response_format`` of type ``json_schema`` for ``schema``."""
    if isinstance(schema, Mapping) and schema.get("type") == "json_schema":
        return dict(schema)
    if isinstance(schema, Mapping) and "name" in schema and "schema" in schema:
        spec = dict(schema)
    else:
        fn = convert_to_openai_function(schema, strict=strict)
        spec = {k: v for k, v in fn.items() if k != "parameters"}
        spec["schema"] = fn["parameters"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def with_structured_output(
    model: BaseChatModel,
    schema: Any,
    *,
    method: Method,
    include_raw: bool,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[Any, Any]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if schema is None:
        raise ValueError("schema is required")
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    parser: Runnable[Any, Any]
    if method == "function_calling":
        name = convert_to_openai_function(schema)["name"]
        llm = model.bind_tools(
            [schema],
            tool_choice=name,
            strict=strict,
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            },
            **kwargs,
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if pydantic
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    else:
        fmt = response_format(schema, strict) if method == "json_schema" else {
            "type": "json_object"
        }
        llm = model.bind(
            response_format=fmt,
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            },
            **kwargs,
        )
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    failed = RunnablePassthrough.assign(parsed=lambda _: None)
    with_fallback = parsed.with_fallbacks([failed], exception_key="parsing_error")
    return RunnableMap(raw=llm) | with_fallback
