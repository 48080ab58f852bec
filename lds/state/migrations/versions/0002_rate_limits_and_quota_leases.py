"""Per-token rate limits and quota reservations (leases) of serving processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("rate_limit_per_s", sa.Integer(), nullable=True))
    op.create_table(
        "quota_leases",
        sa.Column("token_id", sa.String(32), sa.ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quota_leases")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("rate_limit_per_s")
