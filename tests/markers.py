"""Conditions some tests need, written once. `pytest.ini` registers the markers themselves
(`browser`, `process`); these skip a test whose service is not configured."""
import os

import pytest

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:", "pgsql:")),
    reason="another process must share the test database: needs DATABASE_URL on PostgreSQL (.ci/run sets it)")
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (.ci/run sets it)")
