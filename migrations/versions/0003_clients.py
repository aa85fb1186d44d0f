"""clients: webhooks (outbox and per-key secrets), retries linked to their original, job lists, statistics

- `jobs.callback_url`, `jobs.retry_of`; `api_keys.webhook_secret`, `api_keys.callback_url`.
- `webhook_deliveries`: the transactional outbox of webhook POSTs, with each try's log.
- `job_outcomes_hourly`: ended jobs counted per hour, owner, checkpoint, status and category, kept on
  write; filled here from the jobs that ended before it existed.
- Indexes: queued jobs per queue in order (queue position), and newest-first job lists (a caller's,
  a caller's by status, everyone's).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("callback_url", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("retry_of", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_jobs_retry_of_jobs"), "jobs", "jobs", ["retry_of"], ["id"], ondelete="SET NULL"
    )
    op.add_column("api_keys", sa.Column("webhook_secret", sa.String(length=80), nullable=True))
    op.add_column("api_keys", sa.Column("callback_url", sa.Text(), nullable=True))
    op.create_index(
        "ix_jobs_queued", "jobs", ["queue", "created_at"], unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created_at", "id"], unique=False)
    op.create_index(
        "ix_jobs_owner_status_created", "jobs", ["owner", "status", "created_at", "id"], unique=False
    )
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("log", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')",
                           name=op.f("ck_webhook_deliveries_state")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_webhook_deliveries_job_id_jobs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_job_id"), "webhook_deliveries", ["job_id"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"], unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "job_outcomes_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("checkpoint", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.Column("images", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "owner", "checkpoint", "status", "category",
                                name=op.f("pk_job_outcomes_hourly")),
    )
    op.execute(
        """
        INSERT INTO job_outcomes_hourly (hour, owner, checkpoint, status, category, jobs, images)
        SELECT date_trunc('hour', j.finished_at), coalesce(j.owner, ''), j.checkpoint, j.status,
               coalesce(j.failure_category, ''), count(*),
               coalesce(sum((SELECT count(*) FROM images i WHERE i.job_id = j.id)), 0)
        FROM jobs j
        WHERE j.status IN ('succeeded', 'failed', 'cancelled') AND j.finished_at IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
        """
    )


def downgrade() -> None:
    op.drop_table("job_outcomes_hourly")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries",
                  postgresql_where=sa.text("state = 'pending'"))
    op.drop_index(op.f("ix_webhook_deliveries_job_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_jobs_created", table_name="jobs")
    op.drop_index("ix_jobs_owner_status_created", table_name="jobs")
    op.drop_index("ix_jobs_owner_created", table_name="jobs")
    op.drop_index("ix_jobs_queued", table_name="jobs", postgresql_where=sa.text("status = 'queued'"))
    op.drop_column("api_keys", "callback_url")
    op.drop_column("api_keys", "webhook_secret")
    op.drop_constraint(op.f("fk_jobs_retry_of_jobs"), "jobs", type_="foreignkey")
    op.drop_column("jobs", "retry_of")
    op.drop_column("jobs", "callback_url")
