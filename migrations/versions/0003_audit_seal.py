"""audit_entry.seal: a keyed HMAC of each entry's hash

The hash chain shows any change to a stored entry, but someone who can write to the
database could append or splice in entries whose hashes they computed themselves.  The
seal is HMAC-SHA256 over the entry's hash with ``AUDIT_HMAC_KEY``, a key the database
never holds: without it, nobody can make an entry that verifies.

Revision ID: 0003_audit_seal
Revises: 0002_audit_append_only
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_audit_seal"
down_revision = "0002_audit_append_only"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("seal", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("seal")
