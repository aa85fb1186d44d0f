"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 20:17:38.922362
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Celery's result backend creates its own tables in this schema (database_table_schemas); Alembic
    # compares only the default schema, so they never show up as differences.
    op.execute("CREATE SCHEMA IF NOT EXISTS celery")
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_sha256', name=op.f('uq_api_keys_key_sha256')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name'))
    )
    op.create_index(op.f('ix_api_keys_prefix'), 'api_keys', ['prefix'], unique=False)
    op.create_table('gpu_capacity',
    sa.Column('gpu', sa.String(length=200), nullable=False),
    sa.Column('architecture', sa.String(length=16), nullable=False),
    sa.Column('pixels', sa.Integer(), nullable=False),
    sa.Column('largest_ok', sa.Integer(), nullable=True),
    sa.Column('smallest_oom', sa.Integer(), nullable=True),
    sa.Column('batch_limit', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('gpu', 'architecture', 'pixels', name=op.f('pk_gpu_capacity'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checkpoint', sa.String(length=128), nullable=False),
    sa.Column('queue', sa.String(length=160), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('failure_category', sa.String(length=32), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('info', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('owner', sa.String(length=128), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("failure_category IS NULL OR failure_category IN ('invalid_request', 'model_not_found', 'lora_not_found', 'lora_incompatible', 'model_invalid', 'content_blocked', 'oom', 'backend_unavailable', 'backend_crashed', 'timeout', 'output_invalid', 'cancelled', 'internal')", name=op.f('ck_jobs_failure_category')),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name=op.f('ck_jobs_status')),
    sa.CheckConstraint('attempt >= 0', name=op.f('ck_jobs_attempt_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_jobs_idempotency_key'))
    )
    op.create_index('ix_jobs_lease', 'jobs', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'running'"))
    op.create_index('ix_jobs_pending', 'jobs', ['status', 'created_at'], unique=False, postgresql_where=sa.text("status IN ('queued','running')"))
    op.create_table('attempts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('oom_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('timings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("category IS NULL OR category IN ('invalid_request', 'model_not_found', 'lora_not_found', 'lora_incompatible', 'model_invalid', 'content_blocked', 'oom', 'backend_unavailable', 'backend_crashed', 'timeout', 'output_invalid', 'cancelled', 'internal')", name=op.f('ck_attempts_category')),
    sa.CheckConstraint("outcome IN ('running', 'succeeded', 'failed', 'retried', 'lost', 'cancelled')", name=op.f('ck_attempts_outcome')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_attempts_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempts')),
    sa.UniqueConstraint('job_id', 'number', name='uq_attempts_job_id_number')
    )
    op.create_index(op.f('ix_attempts_job_id'), 'attempts', ['job_id'], unique=False)
    op.create_table('images',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('storage_path', sa.Text(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('infotext', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_images_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
    sa.UniqueConstraint('job_id', 'index', name='uq_images_job_id_index')
    )
    op.create_index(op.f('ix_images_job_id'), 'images', ['job_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_images_job_id'), table_name='images')
    op.drop_table('images')
    op.drop_index(op.f('ix_attempts_job_id'), table_name='attempts')
    op.drop_table('attempts')
    op.drop_index('ix_jobs_pending', table_name='jobs', postgresql_where=sa.text("status IN ('queued','running')"))
    op.drop_index('ix_jobs_lease', table_name='jobs', postgresql_where=sa.text("status = 'running'"))
    op.drop_table('jobs')
    op.drop_table('gpu_capacity')
    op.drop_index(op.f('ix_api_keys_prefix'), table_name='api_keys')
    op.drop_table('api_keys')
    op.execute("DROP SCHEMA IF EXISTS celery CASCADE")
