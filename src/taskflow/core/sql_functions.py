"""SQL functions both databases have under different names, compiled for each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class comma_joined(FunctionElement[str]):
    """The aggregate of a text expression's values joined by ",", in no given order (NULL
    when there are none). Unlike func.aggregate_strings, its separator is written into the
    SQL once, when the statement is compiled, not bound again at every execution."""

    type = String()
    name = "comma_joined"
    inherit_cache = True


@compiles(comma_joined)
def _string_agg(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined, "sqlite")
def _group_concat(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"
