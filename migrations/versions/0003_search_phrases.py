"""listings' search tokens gain adjacent-word pairs: clear them so they are recomputed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Data only. `flask db-upgrade` (the release step) recomputes every listing whose search_text is
NULL right after migrating (listing_search.fill_missing_search_text).
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE research_results SET search_text = NULL")
    op.execute("UPDATE tech_needs SET search_text = NULL")


def downgrade() -> None:
    # Older code reads the pairs as a few extra words and rewrites them on the next edit.
    pass
