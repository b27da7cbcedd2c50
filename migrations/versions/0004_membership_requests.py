"""joining an existing organization is a request: users.pending_organization_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_organization_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_pending_organization_id'), ['pending_organization_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_pending_organization_id_organizations'),
                                    'organizations', ['pending_organization_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_pending_organization_id_organizations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_pending_organization_id'))
        batch_op.drop_column('pending_organization_id')
