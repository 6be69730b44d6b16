"""Every projects and tasks test runs twice: on PostgreSQL and on the embedded SQLite."""

import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
