"""Hypothesis strategies for requests to any operation of the OpenAPI document.

Values come from each parameter's and body field's JSON Schema, biased to the edges:
integers at and beyond every declared bound and at the widths databases and drivers use,
date-times at the calendar's first and last days with extreme offsets, strings with NUL,
lone surrogates and one character past the maximum length, forged keyset cursors. A schema
construct this module does not know raises `NoStrategy`, so a new kind of input cannot go
untested unnoticed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.factories import unique_email

# Widths where drivers and databases change integer types: int16, int32, JSON's exact
# doubles, int64, and past all of them.
INTEGER_EDGES = (
    -(2**63) - 1,
    -(2**31) - 1,
    -1,
    0,
    1,
    2**15,
    2**31 - 1,
    2**31,
    2**53,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
)
# Valid RFC 3339 text whose UTC value is past the calendar's ends (or just inside them).
CALENDAR_EDGES = (
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999-23:59",
    "9999-12-31T00:01:00-23:59",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.999999+23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T23:58:59+23:59",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-23:59",
    "0001-01-02T00:00:00+23:59",
    "9999-12-30T23:59:59-23:59",
)
_DAYS = ("0001-01-01", "0001-01-02", "2026-06-15", "9999-12-30", "9999-12-31")
_TIMES = ("00:00:00", "00:00:01", "12:00:00", "23:59:59", "23:59:59.999999", "23:59:59.9999999")
_OFFSETS = ("Z", "+00:00", "-00:00", "+23:59", "-23:59", "+01:00", "-05:00")
_NOT_RFC3339 = (
    "now",
    "2026-13-01T00:00:00Z",
    "1e9",
    "2026-01-01T00:00:00",
    "2026-01-01",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:00:00+24:00",
    "99999-01-01T00:00:00Z",
)
LONE_SURROGATES = ("\ud800", "\udfff", "a\udc00b")
_AWKWARD_TEXT = ("%", "_", "/", "\\", "\u0301", "\U0001f600", "'\"", "a\tb", "\u2028")
_REFUSED_TEXT = ("", " ", "\t\n", "\x00", "a\x00b")

# The factories' password, and passwords the policy would take but for a NUL or a surrogate.
PASSWORDS = ("correct-horse-9", "abc12345", "abc\x0012345", "\ud800bc12345", "a1" + "\x00" * 126)


class NoStrategy(Exception):
    """A schema construct the property layer cannot generate values for."""


def mostly(
    valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Values the schema accepts, which reach the database, nine times in ten; else values
    it refuses, which must be refused cleanly."""
    return st.integers(0, 9).flatmap(lambda n: invalid if n == 9 else valid)


def date_times() -> st.SearchStrategy[str]:
    """RFC 3339 text at the calendar's edges with extreme offsets, ordinary date-times, and
    text that is not RFC 3339 (no offset, a whole day's offset, year 0)."""
    edge = st.builds(
        lambda day, time, offset, sep: f"{day}{sep}{time}{offset}",
        st.sampled_from(_DAYS),
        st.sampled_from(_TIMES),
        st.sampled_from(_OFFSETS),
        st.sampled_from(("T", "t", " ")),
    )
    ordinary = st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat())
    valid = st.one_of(st.sampled_from(CALENDAR_EDGES), edge, ordinary)
    return mostly(valid, st.sampled_from(_NOT_RFC3339))


def texts(*, min_length: int = 0, max_length: int | None = None) -> st.SearchStrategy[str]:
    """Text at its length bounds and with the characters storage trips on: lone surrogates
    (which JSON can carry), NUL, combining marks, LIKE wildcards."""
    longest = max_length if max_length is not None else 300
    shortest = max(min_length, 1)
    valid = st.one_of(
        st.sampled_from(LONE_SURROGATES),
        st.sampled_from(_AWKWARD_TEXT),
        st.text(min_size=shortest, max_size=min(20, longest)),
        st.just("x" * longest),
        st.sampled_from(LONE_SURROGATES).map(lambda s: "x" * (longest - len(s)) + s),
        st.just("\U0001f600" * longest),
    )
    invalid = st.one_of(
        st.sampled_from(_REFUSED_TEXT),
        st.just("x" * (longest + 1)),
        st.just("x" * (longest - 1) + "\x00"),
        st.just("x" * max(min_length - 1, 0)),
    )
    return mostly(valid, invalid)


def integers(schema: dict[str, Any], known: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """Integers at each declared bound and inside, ids that exist; beyond the bounds and at
    the widths drivers and databases change types."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low = None if low is None else int(low)
    high = None if high is None else int(high)
    bounds = {bound for bound in (low, high) if bound is not None}
    near = {b + d for b in bounds for d in (-1, 0, 1)}
    within = [
        v
        for v in sorted(bounds | near | set(INTEGER_EDGES) | set(known))
        if (low is None or v >= low) and (high is None or v <= high)
    ]
    outside = sorted((near | set(INTEGER_EDGES)) - set(within))
    inside = st.integers(min_value=low, max_value=high)
    valid = st.one_of(st.sampled_from(within), inside) if within else inside
    real = [v for v in known if (low is None or v >= low) and (high is None or v <= high)]
    if real:
        valid = st.one_of(st.sampled_from(real), valid)
    if bounds:
        # The declared bounds themselves half the time: where overflows hide.
        at_bounds = st.sampled_from(sorted(bounds))
        valid = st.booleans().flatmap(lambda edge: at_bounds if edge else valid)
    return mostly(valid, st.sampled_from(outside) if outside else inside)


def _cursor_value(sort: str) -> st.SearchStrategy[Any]:
    """A sort value of the kind the sort's column holds, in and out of the column's range,
    and now and then of another kind."""
    key = sort.removeprefix("-")
    if key in ("created_at", "updated_at", "due_date"):
        fitting: st.SearchStrategy[Any] = date_times()
    elif key == "priority":
        fitting = st.sampled_from(INTEGER_EDGES) | st.integers(-40_000, 40_000)
    else:
        fitting = texts(max_length=200)
    other = st.one_of(
        st.none(),
        st.sampled_from(INTEGER_EDGES),
        texts(max_length=20),
        st.sampled_from(("2026-01-01T00:00:00", 1.5, True, [], {})),
    )
    return mostly(fitting, other)


def forged_cursors(sort: str) -> st.SearchStrategy[str]:
    """Base64 cursors the API did not make, for this sort: a sort value and a last id of any
    size, and now and then text that is not a cursor at all."""
    last_ids = st.sampled_from(INTEGER_EDGES) | st.integers(1, 10)
    shaped = st.tuples(st.just(sort), _cursor_value(sort), last_ids).map(list)
    encoded = shaped.map(
        lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    )
    junk = st.sampled_from(("A", "AAAA", "_-_-", "x" * 513, "bm90IGpzb24", "W10", "e30"))
    return mostly(encoded, junk)


@dataclass(frozen=True)
class World:
    """Ids of rows that exist, so path ids hit real rows as well as absent ones."""

    ids: tuple[int, ...]
    emails: tuple[str, ...]


@dataclass
class SchemaValues:
    """Strategies for the values a JSON Schema describes, with `$ref`s resolved against the
    document's components."""

    components: dict[str, Any]
    world: World
    cursor_sort: str = "-created_at"

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def of(self, schema: dict[str, Any], *, name: str = "") -> st.SearchStrategy[Any]:
        schema = self.resolve(schema)
        if name == "cursor":
            return forged_cursors(self.cursor_sort)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            # null is one value; the other variants have many edges to reach.
            values = [self.of(v, name=name) for v in variants if v.get("type") != "null"]
            if len(values) < len(variants):
                return mostly(st.one_of(values), st.none())
            return st.one_of(values)
        if "const" in schema:
            return mostly(st.just(schema["const"]), texts(max_length=10))
        if "enum" in schema:
            return mostly(st.sampled_from(schema["enum"]), texts(max_length=10))
        kind = schema.get("type")
        if kind == "null":
            return st.none()
        if kind == "integer":
            return mostly(integers(schema, self.world.ids), st.sampled_from(("5", 1.5, True)))
        if kind == "boolean":
            return mostly(st.booleans(), st.sampled_from((0, 1, "true", None)))
        if kind == "string":
            return self._string(schema, name)
        if kind == "array":
            items = self.of(schema.get("items", {"type": "integer"}), name=name)
            longest = int(schema.get("maxItems", 5)) + 1
            return mostly(
                st.lists(items, min_size=1, max_size=min(longest, 5)),
                st.lists(items, min_size=longest, max_size=longest) | st.just([]),
            )
        if kind == "object" or "properties" in schema:
            return self.objects(schema)
        raise NoStrategy(f"no strategy for the schema {schema!r}")

    def _string(self, schema: dict[str, Any], name: str) -> st.SearchStrategy[str]:
        form = schema.get("format")
        if form == "date-time":
            return date_times()
        plain = texts(
            min_length=int(schema.get("minLength", 0)), max_length=schema.get("maxLength")
        )
        if form == "email":
            known = st.sampled_from(self.world.emails) if self.world.emails else st.nothing()
            made = st.builds(
                lambda local, domain: f"{local}@{domain}",
                plain,
                st.sampled_from(("example.com", "x.test", "\x00.com")),
            )
            # A new address on every draw, replays included, so a replayed register is not
            # refused as taken where the first run was accepted.
            fresh = st.just("fresh").map(unique_email)
            return mostly(st.one_of(known, fresh), st.one_of(made, plain))
        if "password" in name:
            return mostly(st.sampled_from(PASSWORDS), plain)
        if form is None:
            return plain
        raise NoStrategy(f"no strategy for the string format {form!r}")

    def objects(self, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        schema = self.resolve(schema)
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fields = {name: self.of(sub, name=name) for name, sub in properties.items()}
        # Each optional field is sent half the time (fixed_dictionaries sends them rarely).
        known = st.tuples(
            *(
                st.tuples(
                    st.just(name), field, st.just(True) if name in required else st.booleans()
                )
                for name, field in fields.items()
            )
        ).map(lambda drawn: {name: value for name, value, sent in drawn if sent})
        return mostly(known, known.map(lambda body: {**body, "unknown_field": 1}))


def encode_text(value: Any) -> str:
    """A query or form value as percent-encoded UTF-8; lone surrogates as the bytes a
    careless client sends for them."""
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text, safe="", errors="surrogatepass")
