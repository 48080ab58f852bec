"""Alembic environment: always run on the connection ``StateStore.migrate`` hands over."""

from alembic import context

from lds.state.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through lds.state.StateStore.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
