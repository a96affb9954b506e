"""Form drafts, their media and their test submissions; the spreadsheet a version was uploaded as

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:20:00.000000

A draft is one per form (Central's draft definition), tried on a test phone through its own token.
Test submissions get a table of their own so the queue, the registry and the exports, which read
``submissions``, never see them. ``form_versions.source_sha256`` names the blob of the uploaded XLSX or
XLS (``GET .../forms/<id>.xlsx``); versions published before this revision have none.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('form_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('binary_paths', sa.JSON(), nullable=False),
    sa.Column('entity_dataset', sa.String(length=100), nullable=True),
    sa.Column('source_name', sa.String(length=300), nullable=True),
    sa.Column('source_sha256', sa.String(length=64), nullable=True),
    sa.Column('source_type', sa.String(length=100), nullable=True),
    sa.Column('draft_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_drafts_form_id_forms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_drafts')),
    sa.UniqueConstraint('draft_token', name=op.f('uq_form_drafts_draft_token')),
    sa.UniqueConstraint('form_id', name=op.f('uq_form_drafts_form_id'))
    )
    op.create_table('form_draft_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('dataset', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['form_drafts.id'], name=op.f('fk_form_draft_attachments_draft_id_form_drafts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_draft_attachments')),
    sa.UniqueConstraint('draft_id', 'name', name=op.f('uq_form_draft_attachments_draft_id_name'))
    )
    with op.batch_alter_table('form_draft_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_draft_attachments_draft_id'), ['draft_id'], unique=False)
    op.create_table('draft_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=200), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('xml_sha256', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('device_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['form_drafts.id'], name=op.f('fk_draft_submissions_draft_id_form_drafts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_submissions')),
    sa.UniqueConstraint('draft_id', 'instance_id', name=op.f('uq_draft_submissions_draft_id_instance_id'))
    )
    with op.batch_alter_table('draft_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_submissions_draft_id'), ['draft_id'], unique=False)
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_type', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.drop_column('source_type')
        batch_op.drop_column('source_sha256')
    with op.batch_alter_table('draft_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_submissions_draft_id'))
    op.drop_table('draft_submissions')
    with op.batch_alter_table('form_draft_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_draft_attachments_draft_id'))
    op.drop_table('form_draft_attachments')
    op.drop_table('form_drafts')
