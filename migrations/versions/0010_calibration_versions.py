"""calibration model versions, owners' dismissals of suggestions, labelled pairs' last features

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'match_dismissals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=False),
        sa.Column('side', sa.String(length=10), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=30), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['need_id'], ['tech_needs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['result_id'], ['research_results.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('need_id', 'result_id', 'side', name='match_dismissals_pair_side'),
    )
    with op.batch_alter_table('match_dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_dismissals_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_dismissals_result_id'), ['result_id'], unique=False)
    op.create_table(
        'calibration_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('origin', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=30), nullable=True),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('calibration_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_versions_status'), ['status'], unique=False)
    op.create_table(
        'outcome_features',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=False),
        sa.Column('query_kind', sa.String(length=10), nullable=False),
        sa.Column('features', sa.JSON(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['need_id'], ['tech_needs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['result_id'], ['research_results.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('need_id', 'result_id', 'query_kind', name='outcome_features_pair'),
    )
    with op.batch_alter_table('outcome_features', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_features_need_id'), ['need_id'], unique=False)


def downgrade() -> None:
    op.drop_table('outcome_features')
    op.drop_table('calibration_versions')
    op.drop_table('match_dismissals')
