"""fleet lanes: a job's priority (interactive or batch) and the lane queue it waits in

Revision ID: 0004_fleet_lanes
Revises: 0003
Create Date: 2026-12-02 08:10:00

Jobs still queued or running move from `sd.<checkpoint>` to `sd.<checkpoint>.batch`: workers no longer
consume the old queue, and the sweeper re-publishes their message to the new one (its copy in the old
queue is never consumed; `docs/operations.md`, "Draining and upgrading"). Finished jobs keep the queue
they ran from. The oldest queued job of a lane is read through `ix_jobs_queued` (0003).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_fleet_lanes"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("priority", sa.String(length=16), server_default="batch", nullable=False)
    )
    op.create_check_constraint("priority", "jobs", "priority IN ('interactive', 'batch')")
    op.execute(
        "UPDATE jobs SET queue = queue || '.batch' WHERE status IN ('queued', 'running') "
        "AND queue NOT LIKE '%.batch' AND queue NOT LIKE '%.interactive'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE jobs SET queue = regexp_replace(queue, '\\.(batch|interactive)$', '') "
        "WHERE status IN ('queued', 'running')"
    )
    op.drop_constraint("priority", "jobs", type_="check")
    op.drop_column("jobs", "priority")
