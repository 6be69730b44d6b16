"""flush_versioned: a row changed by someone else since it was read is a failed precondition."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy.orm.exc import StaleDataError

from taskflow.core.errors import PreconditionFailed
from taskflow.core.etag import flush_versioned


class _StaleSession:
    async def flush(self) -> None:
        raise StaleDataError("UPDATE statement on table 'tasks' expected to update 1 row")


async def test_a_stale_flush_is_a_412_telling_to_read_again() -> None:
    with pytest.raises(PreconditionFailed) as raised:
        await flush_versioned(cast(Any, _StaleSession()))

    assert raised.value.status_code == 412
    assert raised.value.detail == "The resource was changed by another request; read it again"
