"""Memberships (role and area per project), sign-in failures, comments, review columns on submissions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:30:00.000000

The previous release may still be serving while this runs: keep changes additive. ``users.role`` stays
(the previous release reads it); from now on an account's rights in a project come from its membership.

Existing accounts become members of every project with the role they had and the whole project as their
area: they keep exactly what they could see before. The area columns of submissions start empty and are
filled by the next normalization (``qingling registry rebuild`` fills them at once); until then only
accounts of the whole project see those submissions.
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('area', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_memberships_project_id_projects')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('user_id', 'project_id', name=op.f('uq_memberships_user_id_project_id'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_failures_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_failures_email_at', ['email', 'at'], unique=False)

    op.create_table('submission_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_submission_comments_actor_user_id_users')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_comments_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_comments'))
    )
    with op.batch_alter_table('submission_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_comments_submission_id'), ['submission_id'], unique=False)

    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audits_submission_id'), ['submission_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audits_submission_id_submissions'), 'submissions', ['submission_id'], ['id'])

    with op.batch_alter_table('submission_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field', sa.String(length=100), nullable=True))

    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_required', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('township', sa.String(length=9), nullable=True))
        batch_op.add_column(sa.Column('village', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('household_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('verdict', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('device_verdict', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_submissions_household_code'), ['household_code'], unique=False)
        batch_op.create_index('ix_submissions_queue', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_submissions_county_queue', ['county', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_submissions_township_queue', ['township', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_submissions_village_queue', ['village', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_submissions_form_counts', ['form_id', 'verdict', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_county_counts', ['county', 'form_id', 'verdict', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_township_counts', ['township', 'form_id', 'verdict', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_village_counts', ['village', 'form_id', 'verdict', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_enumerator_counts', ['submitter_app_user_id', 'form_id', 'verdict', 'review_state'], unique=False)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_other_submission_id'), ['other_submission_id'], unique=False)

    # Every existing account: its old role, in every project, over the whole project.
    op.execute(
        "INSERT INTO memberships (user_id, project_id, role, area, created_at) "
        "SELECT users.id, projects.id, users.role, '', users.created_at FROM users CROSS JOIN projects"
    )


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_other_submission_id'))
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        for name in ('form', 'county', 'township', 'village', 'enumerator'):
            batch_op.drop_index(f'ix_submissions_{name}_counts')
        batch_op.drop_index('ix_submissions_village_queue')
        batch_op.drop_index('ix_submissions_township_queue')
        batch_op.drop_index('ix_submissions_county_queue')
        batch_op.drop_index('ix_submissions_queue')
        batch_op.drop_index(batch_op.f('ix_submissions_household_code'))
        for column in ('device_verdict', 'verdict', 'household_code', 'village', 'township', 'county'):
            batch_op.drop_column(column)
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.drop_column('approval_required')
    with op.batch_alter_table('submission_attachments', schema=None) as batch_op:
        batch_op.drop_column('field')
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audits_submission_id_submissions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audits_submission_id'))
        batch_op.drop_column('submission_id')
    op.drop_table('submission_comments')
    op.drop_table('sign_in_failures')
    op.drop_table('memberships')
