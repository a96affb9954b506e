"""The clearance ledger: items, the list of measures, uploaded parameter table versions

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02 00:20:00.000000

``ledger_items`` holds one row per problem episode of a household (derived columns and people's
decisions side by side, docs/ledger.md); ``ledger_measures`` the editable list of measures, seeded with
the usual ones; ``parameter_versions`` every parameter table an administrator uploaded, kept after a
later one replaces it. The down revision is 0006 for now: the branch was cut from that head and the
integrator chains it after the revisions merged meanwhile.
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None

MEASURES = [
    ("housing_rebuild", "housing", "危房改造(拆除重建)", "Dangerous-house reconstruction", 10),
    ("housing_repair", "housing", "危房改造(维修加固)", "Dangerous-house repair and strengthening", 20),
    ("housing_relocation", "housing", "易地搬迁", "Relocation", 30),
    ("water_project", "water", "饮水工程", "Water supply project", 10),
    ("water_filter", "water", "入户净水设备", "Household water filter", 20),
    ("water_storage", "water", "水窖/蓄水设施", "Water cellar or storage", 30),
    ("income_industry", "income", "产业帮扶", "Industry support", 10),
    ("income_employment", "income", "就业帮扶", "Employment support", 20),
    ("income_dibao", "income", "低保兜底", "Minimum living allowance (dibao)", 30),
    ("monitoring_support", "monitoring", "监测帮扶", "Monitoring assistance", 10),
    ("identity_correction", "identity", "信息核实更正", "Verify and correct the record", 10),
]


def upgrade() -> None:
    measures = op.create_table('ledger_measures',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label_zh', sa.String(length=100), nullable=False),
    sa.Column('label_en', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_ledger_measures'))
    )
    op.bulk_insert(measures, [
        {"code": code, "kind": kind, "label_zh": zh, "label_en": en, "active": True, "position": position}
        for code, kind, zh, en, position in MEASURES
    ])
    op.create_table('parameter_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('uploaded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('applied_by_user_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applied_by_user_id'], ['users.id'], name=op.f('fk_parameter_versions_applied_by_user_id_users')),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['users.id'], name=op.f('fk_parameter_versions_uploaded_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parameter_versions'))
    )
    op.create_table('ledger_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('village', sa.String(length=12), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('found_submission_id', sa.Integer(), nullable=False),
    sa.Column('found_instance_id', sa.String(length=200), nullable=False),
    sa.Column('found_form', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('closed_by_submission_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_instance_id', sa.String(length=200), nullable=True),
    sa.Column('closed_by_form', sa.String(length=64), nullable=True),
    sa.Column('previous_item_id', sa.Integer(), nullable=True),
    sa.Column('measure', sa.String(length=32), nullable=True),
    sa.Column('unit', sa.String(length=200), nullable=True),
    sa.Column('person', sa.String(length=100), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('assigned_by_user_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_user_id', sa.Integer(), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.Column('close_requested_by_user_id', sa.Integer(), nullable=True),
    sa.Column('close_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_approved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('close_approved_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_user_id'], ['users.id'], name=op.f('fk_ledger_items_assigned_by_user_id_users')),
    sa.ForeignKeyConstraint(['close_approved_by_user_id'], ['users.id'], name=op.f('fk_ledger_items_close_approved_by_user_id_users')),
    sa.ForeignKeyConstraint(['close_requested_by_user_id'], ['users.id'], name=op.f('fk_ledger_items_close_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['closed_by_submission_id'], ['submissions.id'], name=op.f('fk_ledger_items_closed_by_submission_id_submissions')),
    sa.ForeignKeyConstraint(['done_by_user_id'], ['users.id'], name=op.f('fk_ledger_items_done_by_user_id_users')),
    sa.ForeignKeyConstraint(['found_submission_id'], ['submissions.id'], name=op.f('fk_ledger_items_found_submission_id_submissions')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_ledger_items_household_id_households')),
    sa.ForeignKeyConstraint(['previous_item_id'], ['ledger_items.id'], name=op.f('fk_ledger_items_previous_item_id_ledger_items')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ledger_items_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_items')),
    sa.UniqueConstraint('household_id', 'kind', 'found_submission_id', name=op.f('uq_ledger_items_household_id_kind_found_submission_id'))
    )
    with op.batch_alter_table('ledger_items', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_items_area', ['project_id', 'village', 'state'], unique=False)
        batch_op.create_index('ix_ledger_items_household_kind', ['household_id', 'kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_items', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_items_household_kind')
        batch_op.drop_index('ix_ledger_items_area')
    op.drop_table('ledger_items')
    op.drop_table('parameter_versions')
    op.drop_table('ledger_measures')
