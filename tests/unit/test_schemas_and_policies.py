"""Request types, the credential and account policies, Link headers and the error codes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from taskflow.api_keys.schemas import ApiKeyCreate
from taskflow.audit.service import (
    MAX_DETAIL_CHARS,
    MAX_DETAIL_ITEMS,
    plausible_email,
    stored_details,
)
from taskflow.core.errors import (
    ErrorBody,
    Forbidden,
    NotFound,
    Unauthorized,
    error_code_for_status,
    error_responses,
)
from taskflow.core.pagination import Page, link_header, set_page_headers
from taskflow.identity.policy import (
    AdminRequired,
    InsufficientScope,
    SessionRequired,
    ensure_allowed,
)
from taskflow.identity.principal import Principal, Scope
from taskflow.users import policy
from taskflow.users.models import Role, User
from taskflow.users.schemas import (
    AdminUserUpdate,
    Email,
    FullName,
    Password,
    ProfileUpdate,
    UserCreate,
    check_password_policy,
)

password_type: TypeAdapter[str] = TypeAdapter(Password)
email_type: TypeAdapter[str] = TypeAdapter(Email)
full_name_type: TypeAdapter[str] = TypeAdapter(FullName)


def make_user(user_id: int, role: Role = Role.USER) -> User:
    return User(
        id=user_id,
        email=f"user{user_id}@example.com",
        full_name=f"User {user_id}",
        password_hash="not-a-real-hash",
        role=role.value,
        is_active=True,
        is_verified=True,
    )


def session_of(user: User) -> Principal:
    return Principal(user=user)


def key_of(user: User, *scopes: Scope) -> Principal:
    return Principal(user=user, scopes=frozenset(s.value for s in scopes), api_key_id=99)


# --- password policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("abcdefg1", id="exactly-8"),
        pytest.param("a1" * 64, id="exactly-128"),
        pytest.param("1234567x", id="one-letter"),
        pytest.param("\u043f\u0430\u0440\u043e\u043b\u044c123", id="cyrillic-letters"),
        pytest.param("パスワード12345", id="japanese-letters"),
        pytest.param("Ünïcödé9", id="accented-letters"),
        pytest.param("correct horse battery 9", id="with-spaces"),
    ],
)
def test_password_policy_accepts_8_to_128_chars_with_a_letter_and_a_digit(password: str) -> None:
    assert password_type.validate_python(password) == password
    assert check_password_policy(password) == password


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("abcde12", "at least 8"),  # 7 chars
        ("a1" * 64 + "x", "at most 128"),  # 129 chars
        ("abcdefgh", "letter and one digit"),
        ("12345678", "letter and one digit"),
        ("________1", "letter and one digit"),  # underscore is not a letter
        ("!!!!@@@@####", "letter and one digit"),
    ],
)
def test_password_policy_rejects_with_the_reason(password: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        password_type.validate_python(password)

    assert problem in str(caught.value)


def test_check_password_policy_raises_value_error_without_letter_or_digit() -> None:
    with pytest.raises(ValueError, match="letter"):
        check_password_policy("onlyletters")
    with pytest.raises(ValueError, match="digit"):
        check_password_policy("00000000")


def test_user_create_reports_the_password_field_in_loc() -> None:
    with pytest.raises(ValidationError) as caught:
        UserCreate.model_validate(
            {"email": "a@example.com", "password": "short1", "full_name": "A"}
        )

    assert [error["loc"] for error in caught.value.errors()] == [("password",)]


# --- email and full name -----------------------------------------------------------------


def test_email_is_lower_cased() -> None:
    assert email_type.validate_python("Ada.Lovelace@Example.COM") == "ada.lovelace@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
def test_invalid_email_is_rejected(email: str) -> None:
    with pytest.raises(ValidationError):
        email_type.validate_python(email)


def test_full_name_is_stripped() -> None:
    assert full_name_type.validate_python("  Ada Lovelace \n") == "Ada Lovelace"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab-newline"])
def test_blank_full_name_is_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        full_name_type.validate_python(name)


def test_full_name_longer_than_200_is_rejected() -> None:
    assert full_name_type.validate_python("x" * 200) == "x" * 200
    with pytest.raises(ValidationError):
        full_name_type.validate_python("x" * 201)


def test_request_models_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        ProfileUpdate.model_validate({"full_name": "A", "role": "admin"})

    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_patch_models_reject_null_and_remember_which_fields_were_sent() -> None:
    update = AdminUserUpdate.model_validate({"role": "admin"})
    assert update.model_fields_set == {"role"}

    with pytest.raises(ValidationError):
        ProfileUpdate.model_validate({"full_name": None})


# --- API key scopes ----------------------------------------------------------------------


def test_api_key_scopes_are_deduplicated_and_sorted() -> None:
    key = ApiKeyCreate.model_validate(
        {"name": "ci", "scopes": ["tasks:write", "projects:read", "tasks:write", "tasks:read"]}
    )

    assert key.scopes == [Scope.PROJECTS_READ, Scope.TASKS_READ, Scope.TASKS_WRITE]


def test_api_key_name_is_stripped() -> None:
    assert ApiKeyCreate.model_validate({"name": "  ci  ", "scopes": ["users:read"]}).name == "ci"


@pytest.mark.parametrize("scopes", [["admin:all"], ["tasks:read", "keys:write"], ["TASKS:READ"]])
def test_api_key_with_an_unknown_scope_is_rejected(scopes: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ApiKeyCreate.model_validate({"name": "ci", "scopes": scopes})

    assert all(error["loc"][0] == "scopes" for error in caught.value.errors())


def test_api_key_with_no_scopes_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        ApiKeyCreate.model_validate({"name": "ci", "scopes": []})

    assert caught.value.errors()[0]["loc"] == ("scopes",)


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_api_key_lifetime_out_of_range_is_rejected(days: int) -> None:
    with pytest.raises(ValidationError):
        ApiKeyCreate.model_validate(
            {"name": "ci", "scopes": ["tasks:read"], "expires_in_days": days}
        )


# --- identity.policy.ensure_allowed ----------------------------------------------------------


def test_session_may_use_every_scope() -> None:
    principal = session_of(make_user(1))

    for scope in Scope:
        ensure_allowed(principal, scope=scope)


def test_api_key_may_use_its_scopes() -> None:
    principal = key_of(make_user(1), Scope.TASKS_READ, Scope.PROJECTS_WRITE)

    ensure_allowed(principal, scope=Scope.TASKS_READ)
    ensure_allowed(principal, scope=Scope.PROJECTS_WRITE)


def test_api_key_without_the_scope_gets_insufficient_scope() -> None:
    principal = key_of(make_user(1), Scope.TASKS_READ)

    with pytest.raises(InsufficientScope) as caught:
        ensure_allowed(principal, scope=Scope.TASKS_WRITE)

    assert caught.value.status_code == 403
    assert caught.value.error == "insufficient_scope"
    assert "tasks:write" in caught.value.detail


def test_session_only_action_refuses_an_api_key() -> None:
    principal = key_of(make_user(1), *Scope)

    with pytest.raises(SessionRequired) as caught:
        ensure_allowed(principal, session_only=True)

    assert caught.value.status_code == 403
    assert caught.value.error == "session_required"


def test_session_only_action_allows_a_session() -> None:
    ensure_allowed(session_of(make_user(1)), session_only=True)


def test_admin_only_action_refuses_a_user_with_403() -> None:
    with pytest.raises(AdminRequired) as caught:
        ensure_allowed(session_of(make_user(1)), admin_only=True)

    assert caught.value.status_code == 403
    assert caught.value.error == "forbidden"


def test_admin_only_action_allows_an_admin_session_and_a_scoped_admin_key() -> None:
    admin = make_user(1, Role.ADMIN)

    ensure_allowed(session_of(admin), admin_only=True)
    ensure_allowed(key_of(admin, Scope.USERS_WRITE), scope=Scope.USERS_WRITE, admin_only=True)


def test_admin_key_is_still_limited_to_its_scopes() -> None:
    admin_key = key_of(make_user(1, Role.ADMIN), Scope.USERS_READ)

    with pytest.raises(InsufficientScope):
        ensure_allowed(admin_key, scope=Scope.USERS_WRITE, admin_only=True)


# --- users.policy ------------------------------------------------------------------------


def test_user_can_view_itself() -> None:
    user = make_user(1)

    assert policy.ensure_can_view(session_of(user), user) is user


def test_user_cannot_see_another_account_gets_404() -> None:
    with pytest.raises(NotFound) as caught:
        policy.ensure_can_view(session_of(make_user(1)), make_user(2))

    assert caught.value.status_code == 404
    assert caught.value.error == "not_found"


def test_admin_can_view_another_account() -> None:
    other = make_user(2)

    assert policy.ensure_can_view(session_of(make_user(1, Role.ADMIN)), other) is other


def test_missing_account_is_404_even_for_an_admin() -> None:
    with pytest.raises(NotFound):
        policy.ensure_can_view(session_of(make_user(1, Role.ADMIN)), None)


def test_user_may_update_its_name_and_email() -> None:
    policy.ensure_can_update(session_of(make_user(1)), {"full_name", "email"})


@pytest.mark.parametrize("fields", [{"role"}, {"is_active"}, {"full_name", "role", "is_active"}])
def test_user_may_not_change_role_or_is_active(fields: set[str]) -> None:
    with pytest.raises(Forbidden) as caught:
        policy.ensure_can_update(session_of(make_user(1)), fields)

    assert caught.value.status_code == 403
    for field in fields & {"role", "is_active"}:
        assert field in caught.value.detail


def test_admin_may_change_role_and_is_active() -> None:
    policy.ensure_can_update(session_of(make_user(1, Role.ADMIN)), {"role", "is_active"})


def test_admin_cannot_remove_its_own_admin_role() -> None:
    admin = make_user(1, Role.ADMIN)

    with pytest.raises(Forbidden, match="admin role"):
        policy.ensure_not_self_demotion(session_of(admin), admin, role="user", is_active=None)


def test_admin_cannot_deactivate_itself_through_update() -> None:
    admin = make_user(1, Role.ADMIN)

    with pytest.raises(Forbidden, match="deactivate"):
        policy.ensure_not_self_demotion(session_of(admin), admin, role=None, is_active=False)


def test_admin_may_keep_its_own_role_and_stay_active() -> None:
    admin = make_user(1, Role.ADMIN)

    policy.ensure_not_self_demotion(session_of(admin), admin, role="admin", is_active=True)
    policy.ensure_not_self_demotion(session_of(admin), admin, role=None, is_active=None)


def test_admin_may_demote_and_deactivate_another_admin() -> None:
    other_admin = make_user(2, Role.ADMIN)

    policy.ensure_not_self_demotion(
        session_of(make_user(1, Role.ADMIN)), other_admin, role="user", is_active=False
    )


def test_user_cannot_deactivate_another_account() -> None:
    with pytest.raises(Forbidden):
        policy.ensure_can_deactivate(session_of(make_user(1)), make_user(2))


def test_admin_cannot_deactivate_itself_by_id() -> None:
    admin = make_user(1, Role.ADMIN)

    with pytest.raises(Forbidden):
        policy.ensure_can_deactivate(session_of(admin), admin)


def test_admin_may_deactivate_another_account() -> None:
    policy.ensure_can_deactivate(session_of(make_user(1, Role.ADMIN)), make_user(2))


def test_user_may_deactivate_itself() -> None:
    policy.ensure_can_deactivate_self(session_of(make_user(1)))


def test_admin_cannot_deactivate_itself_through_me() -> None:
    with pytest.raises(Forbidden):
        policy.ensure_can_deactivate_self(session_of(make_user(1, Role.ADMIN)))


# --- pagination Link header --------------------------------------------------------------


def request_for(query: str = "") -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "root_path": "",
        "path": "/api/v1/users",
        "raw_path": b"/api/v1/users",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
    }
    return Request(scope)


def parse_links(header: str | None) -> dict[str, dict[str, list[str]]]:
    """rel -> the link's query parameters; every link must point at the same path."""
    if header is None:
        return {}
    links = {}
    for url, rel in re.findall(r'<([^>]*)>; rel="([a-z]+)"', header):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/api/v1/users")
        links[rel] = parse_qs(parts.query)
    assert len(links) == header.count("rel="), header
    return links


@pytest.mark.parametrize(
    ("skip", "limit", "total"),
    [(0, 20, 0), (0, 20, 5), (0, 20, 20)],
)
def test_single_page_has_no_links(skip: int, limit: int, total: int) -> None:
    assert link_header(request_for(), page=Page(skip=skip, limit=limit), total=total) is None


def test_first_page_of_many_has_only_next() -> None:
    links = parse_links(link_header(request_for(), page=Page(skip=0, limit=20), total=21))

    assert set(links) == {"next"}
    assert links["next"]["skip"] == ["20"]
    assert links["next"]["limit"] == ["20"]


def test_middle_page_has_next_and_prev() -> None:
    links = parse_links(link_header(request_for(), page=Page(skip=20, limit=10), total=100))

    assert set(links) == {"next", "prev"}
    assert links["next"]["skip"] == ["30"]
    assert links["prev"]["skip"] == ["10"]
    assert links["next"]["limit"] == links["prev"]["limit"] == ["10"]


def test_last_page_has_only_prev() -> None:
    links = parse_links(link_header(request_for(), page=Page(skip=20, limit=10), total=30))

    assert set(links) == {"prev"}
    assert links["prev"]["skip"] == ["10"]


def test_prev_of_an_unaligned_page_starts_at_zero() -> None:
    links = parse_links(link_header(request_for(), page=Page(skip=5, limit=10), total=12))

    assert set(links) == {"prev"}
    assert links["prev"]["skip"] == ["0"]


def test_links_keep_the_other_query_parameters_and_replace_skip_and_limit() -> None:
    request = request_for("search=ada&skip=10&limit=10")

    links = parse_links(link_header(request, page=Page(skip=10, limit=10), total=50))

    assert links["next"] == {"search": ["ada"], "skip": ["20"], "limit": ["10"]}
    assert links["prev"] == {"search": ["ada"], "skip": ["0"], "limit": ["10"]}


def test_set_page_headers_sets_total_and_link_only_when_there_is_one() -> None:
    many = Response()
    set_page_headers(request_for(), many, page=Page(skip=0, limit=10), total=25)
    one = Response()
    set_page_headers(request_for(), one, page=Page(skip=0, limit=10), total=3)

    assert many.headers["X-Total-Count"] == "25"
    assert 'rel="next"' in many.headers["Link"]
    assert one.headers["X-Total-Count"] == "3"
    assert "Link" not in one.headers


# --- core.errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_code", "code"),
    [
        (400, "bad_request"),
        (401, "not_authenticated"),
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (409, "conflict"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (422, "validation_error"),
        (429, "rate_limited"),
        (500, "internal_error"),
        (503, "service_unavailable"),
        (418, "error"),
    ],
)
def test_error_code_for_status(status_code: int, code: str) -> None:
    assert error_code_for_status(status_code) == code


def test_error_responses_describe_each_status_with_the_error_body() -> None:
    responses = error_responses(401, 404, 409)

    assert responses == {
        401: {"model": ErrorBody, "description": "Unauthorized"},
        404: {"model": ErrorBody, "description": "Not Found"},
        409: {"model": ErrorBody, "description": "Conflict"},
    }


def test_error_body_has_detail_error_and_request_id() -> None:
    assert set(ErrorBody.model_json_schema()["properties"]) == {"detail", "error", "request_id"}
    assert error_responses() == {}


def test_unauthorized_carries_the_bearer_challenge() -> None:
    error = Unauthorized()

    assert error.status_code == 401
    assert error.error == "not_authenticated"
    assert error.headers == {"WWW-Authenticate": "Bearer"}


# --- audit details ------------------------------------------------------------------------


def test_audit_details_bound_every_string_and_list_and_drop_secrets() -> None:
    details = stored_details(
        {
            "name": "n" * 5000,
            "scopes": ["s" * 300] * 80,
            "nested": {"k" * 300: "v" * 300},
            "password": "hunter2-secret",
            "sent": True,
        }
    )
    assert details == {
        "name": "n" * MAX_DETAIL_CHARS,
        "scopes": ["s" * MAX_DETAIL_CHARS] * MAX_DETAIL_ITEMS,
        "nested": {"k" * MAX_DETAIL_CHARS: "v" * MAX_DETAIL_CHARS},
        "sent": True,
    }


@pytest.mark.parametrize(
    ("value", "plausible"),
    [
        ("ann@example.com", True),
        ("a.b+c@mail.example.org", True),
        ("ann@localhost", False),
        ("ann", False),
        ("ann @example.com", False),
        ("a@b@example.com", False),
        ("x" * 64 + "@" + "d" * 185 + ".com", True),
        ("x" * 64 + "@" + "d" * 186 + ".com", False),
    ],
)
def test_only_a_plausible_email_of_at_most_254_characters_is_kept_as_an_email(
    value: str, plausible: bool
) -> None:
    assert plausible_email(value) is plausible
    assert ("email" in stored_details({"email": value})) is plausible
