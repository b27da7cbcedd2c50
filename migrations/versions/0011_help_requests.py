"""help requests: an owner asks the brokers to find a counterpart

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'help_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=True),
        sa.Column('need_id', sa.Integer(), nullable=True),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('broker_id', sa.Integer(), nullable=True),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('(result_id IS NULL) <> (need_id IS NULL)', name=op.f('ck_help_requests_one_listing')),
        sa.ForeignKeyConstraint(['broker_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['need_id'], ['tech_needs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id']),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['result_id'], ['research_results.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('help_requests') as batch:
        for column in ('result_id', 'need_id', 'organization_id', 'status', 'broker_id'):
            batch.create_index(batch.f(f'ix_help_requests_{column}'), [column], unique=False)


def downgrade() -> None:
    op.drop_table('help_requests')
