"""The committed openapi.json is the contract: a change to the API shows up in review."""

from __future__ import annotations

import json
from pathlib import Path

from taskflow.cli import openapi_settings
from taskflow.main import create_app

SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.json"


def test_the_committed_openapi_document_is_the_one_the_app_serves() -> None:
    served = create_app(openapi_settings()).openapi()
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert committed == served, "The API changed: run `make openapi` and commit openapi.json"


def test_every_operation_documents_its_shared_error_answers() -> None:
    document = create_app(openapi_settings()).openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            name = f"{method.upper()} {path}"
            if path.startswith("/api/"):
                assert "503" in codes, name
            if operation.get("security"):
                assert {"401", "429"} <= codes, name
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, name
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) and "content" in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema.get("$ref", "").endswith(("/ErrorBody", "/HealthReport")), name
