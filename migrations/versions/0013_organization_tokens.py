"""organization API tokens: users.org_role, api_tokens.organization_id and created_by_id

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_role', sa.String(length=10), server_default='member', nullable=False))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organization_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_tokens_organization_id'), ['organization_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_organization_id_organizations'), 'organizations',
                                    ['organization_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_created_by_id_users'), 'users',
                                    ['created_by_id'], ['id'], ondelete='SET NULL')
    # Each organization's first active member (who registered it) becomes its admin.
    op.execute(sa.text(
        "UPDATE users SET org_role = 'admin' WHERE id IN ("
        " SELECT MIN(u.id) FROM users u WHERE u.organization_id IS NOT NULL AND u.active"
        " GROUP BY u.organization_id)"))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_created_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_organization_id_organizations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_tokens_organization_id'))
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('organization_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('org_role')
