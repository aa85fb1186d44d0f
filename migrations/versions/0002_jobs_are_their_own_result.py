"""jobs are their own result: Celery's database result backend goes

The job row is the result (`txt2img.delay(...).get()` and the API read it, woken by the job's event
stream), so Celery's result tables, whose rows never expired without `celery beat`, are dropped.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS celery CASCADE")


def downgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS celery")
