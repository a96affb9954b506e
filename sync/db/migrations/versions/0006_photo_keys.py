"""Replace photo_bands with photo_keys, and record where a photo's local features are stored

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:10:00.000000

Fingerprints of version 2 (media/duplicates.py) are looked up by view keys instead of 8-bit bands: one
row per (key, photo check, fine hash), the primary key starting with ``key`` so a lookup is one
index range scan per key. The band rows indexed version-1 fingerprints, which version 2 does not compare
with, so they are dropped rather than kept beside the new table; a previous release still serving would
fail its ``photos`` jobs until it is stopped, and the queue retries them, so nothing is lost.
``photo_checks.features_key`` names the blob holding the photo's ORB keypoints (media/keypoints.py).
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('photo_keys',
    sa.Column('key', sa.Integer(), nullable=False),
    sa.Column('photo_check_id', sa.Integer(), nullable=False),
    sa.Column('fine', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['photo_check_id'], ['photo_checks.id'], name=op.f('fk_photo_keys_photo_check_id_photo_checks')),
    sa.PrimaryKeyConstraint('key', 'photo_check_id', 'fine', name=op.f('pk_photo_keys'))
    )
    with op.batch_alter_table('photo_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_keys_photo_check_id'), ['photo_check_id'], unique=False)
    with op.batch_alter_table('photo_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('features_key', sa.String(length=200), nullable=True))
    with op.batch_alter_table('photo_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_bands_photo_check_id'))
    op.drop_table('photo_bands')


def downgrade() -> None:
    op.create_table('photo_bands',
    sa.Column('band_key', sa.SmallInteger(), nullable=False),
    sa.Column('photo_check_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['photo_check_id'], ['photo_checks.id'], name=op.f('fk_photo_bands_photo_check_id_photo_checks')),
    sa.PrimaryKeyConstraint('band_key', 'photo_check_id', name=op.f('pk_photo_bands'))
    )
    with op.batch_alter_table('photo_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_bands_photo_check_id'), ['photo_check_id'], unique=False)
    with op.batch_alter_table('photo_checks', schema=None) as batch_op:
        batch_op.drop_column('features_key')
    with op.batch_alter_table('photo_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_keys_photo_check_id'))
    op.drop_table('photo_keys')
