"""Alembic migrations of the metadata store, shipped inside the package (run by ``StateStore.migrate``)."""
