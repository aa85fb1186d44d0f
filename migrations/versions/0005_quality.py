"""quality: each image's output-quality score, feedback per image and owner, the hourly quality rollup

- `images.quality_score`, `images.low_quality`, `images.quality` (parts, measures, formula version).
- `image_feedback`: a caller's rating (thumbs or stars, with a reason) and downloads of one image.
- `quality_hourly`: ended jobs per hour, owner, checkpoint, LoRA combination, preset, sampler,
  resolution, status and category, with their images' scores and feedback; filled here from the jobs
  that ended before it existed (their images have no score).
- The `low_quality` failure category (an attempt retried for a low score).

Revision ID: 0005_quality
Revises: 0004_fleet_lanes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_quality"
down_revision: str | None = "0004_fleet_lanes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = (
    "'invalid_request', 'model_not_found', 'lora_not_found', 'lora_incompatible', 'model_invalid', "
    "'content_blocked', 'oom', 'backend_unavailable', 'backend_crashed', 'timeout', 'output_invalid', "
    "'cancelled', 'internal'"
)
COUNTERS = (
    "jobs", "attempts", "oom_events", "images", "scored_images", "low_quality_images", "ratings",
    "thumbs_up", "thumbs_down", "downloads",
)  # fmt: skip


def _categories(extra: str) -> None:
    for table, column in (("jobs", "failure_category"), ("attempts", "category")):
        name = op.f(f"ck_{table}_{column}")
        op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(name, table, f"{column} IS NULL OR {column} IN ({CATEGORIES}{extra})")


def upgrade() -> None:
    op.add_column("images", sa.Column("quality_score", sa.Float(), nullable=True))
    op.add_column(
        "images", sa.Column("low_quality", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("images", sa.Column("quality", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    _categories(", 'low_quality'")
    op.create_table(
        "image_feedback",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("image_index", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("thumb", sa.String(length=4), nullable=True),
        sa.Column("stars", sa.SmallInteger(), nullable=True),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloads", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_downloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_downloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("thumb IS NULL OR thumb IN ('up', 'down')", name=op.f("ck_image_feedback_thumb")),
        sa.CheckConstraint("stars IS NULL OR stars BETWEEN 1 AND 5", name=op.f("ck_image_feedback_stars")),
        sa.CheckConstraint("thumb IS NULL OR stars IS NULL", name=op.f("ck_image_feedback_one_rating")),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 0 AND 1", name=op.f("ck_image_feedback_satisfaction")
        ),
        sa.CheckConstraint("downloads >= 0", name=op.f("ck_image_feedback_downloads")),
        sa.ForeignKeyConstraint(
            ["job_id", "image_index"],
            ["images.job_id", "images.index"],
            name=op.f("fk_image_feedback_job_id_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "image_index", "owner", name=op.f("pk_image_feedback")),
    )
    op.create_table(
        "quality_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("checkpoint", sa.String(length=128), nullable=False),
        sa.Column("loras", sa.Text(), nullable=False),
        sa.Column("preset", sa.String(length=64), nullable=False),
        sa.Column("sampler", sa.String(length=64), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        *[sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False) for name in COUNTERS],
        sa.Column("score_sum", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("satisfaction_sum", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "owner", "checkpoint", "loras", "preset", "sampler", "resolution", "status", "category",
            name=op.f("pk_quality_hourly"),
        ),
    )
    # Jobs that ended before the rollup existed, with the dimensions `worker.store.rollup.dimensions`
    # gives new ones (their images have no score: scored_images stays 0).
    op.execute("""
        INSERT INTO quality_hourly (hour, owner, checkpoint, loras, preset, sampler, resolution, status,
                                    category, jobs, attempts, oom_events, images)
        SELECT date_trunc('hour', j.finished_at), coalesce(j.owner, ''), j.checkpoint,
               coalesce((SELECT string_agg(DISTINCT l->>'name', '+' ORDER BY l->>'name')
                         FROM jsonb_array_elements(coalesce(j.params->'loras', '[]'::jsonb)) l), ''),
               coalesce(j.params->>'preset', ''),
               coalesce(j.params->>'sampler', '') ||
                   CASE WHEN coalesce(j.params->>'scheduler', 'Automatic') = 'Automatic' THEN ''
                        ELSE ' ' || (j.params->>'scheduler') END,
               (j.params->>'width') || 'x' || (j.params->>'height'),
               j.status, coalesce(j.failure_category, ''),
               count(*), sum(j.attempt),
               sum((SELECT coalesce(sum(a.oom_count), 0) FROM attempts a WHERE a.job_id = j.id)),
               sum((SELECT count(*) FROM images i WHERE i.job_id = j.id))
        FROM jobs j
        WHERE j.status IN ('succeeded', 'failed', 'cancelled') AND j.finished_at IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    """)


def downgrade() -> None:
    op.drop_table("quality_hourly")
    op.drop_table("image_feedback")
    op.execute("UPDATE attempts SET category = 'output_invalid' WHERE category = 'low_quality'")
    _categories("")
    op.drop_column("images", "quality")
    op.drop_column("images", "low_quality")
    op.drop_column("images", "quality_score")
