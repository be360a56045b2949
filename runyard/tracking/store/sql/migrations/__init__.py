"""Alembic migrations of the SQL tracking store (run by ``migrate.upgrade``)."""
