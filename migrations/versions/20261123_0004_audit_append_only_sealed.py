"""audit entries: append-only in the database, inserted unsealed, chained by a sealer

Entries are now inserted without a place in the chain (``seq``, ``prev_hash`` and ``hash``
empty) and sealed later, so writers no longer queue on one lock. Triggers make the table
append-only for every connection: INSERT only unsealed entries, UPDATE only to seal an
unsealed entry once without changing its content, never DELETE or TRUNCATE.

Existing entries were chained in id order: they get ``seq`` 1, 2, ... in that order, so
their hashes stay valid.

Revision ID: 0004_audit
Revises: 0003_api
Create Date: 2026-11-23 22:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004_audit'
down_revision: str | None = '0003_api'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTENT = ("occurred_at", "user_id", "role", "action", "subject_type", "subject_id",
           "before", "after")

POSTGRES_FUNCTION = """
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NULL AND NEW.prev_hash IS NULL AND NEW.hash IS NULL THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_entries is append-only: an entry is inserted unsealed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
           AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
           AND NEW.id = OLD.id
           %(unchanged)s
        THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_entries is append-only: UPDATE refused (only the one-time '
            'sealing of an unsealed entry is allowed)' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""".replace("%(unchanged)s", "\n           ".join(
    f'AND NEW."{c}"::text IS NOT DISTINCT FROM OLD."{c}"::text' for c in CONTENT))

POSTGRES_TRIGGERS = (
    "CREATE TRIGGER audit_entries_append_only BEFORE INSERT OR UPDATE OR DELETE "
    "ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
    "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE "
    "ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()",
)

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_entries_insert_unsealed BEFORE INSERT ON audit_entries
WHEN NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: an entry is inserted unsealed'); END""",
    """CREATE TRIGGER audit_entries_seal_only BEFORE UPDATE ON audit_entries
WHEN NOT (OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
          AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
          AND NEW.id = OLD.id
          %s)
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused (only the one-time
sealing of an unsealed entry is allowed)'); END""".replace("%s", "\n          ".join(
        f'AND NEW."{c}" IS OLD."{c}"' for c in CONTENT)),
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused'); END""",
)

SQLITE_TRIGGER_NAMES = ("audit_entries_insert_unsealed", "audit_entries_seal_only",
                        "audit_entries_no_delete")


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)

    # The entries so far were chained in id order: that order is their sequence.
    op.execute(
        "UPDATE audit_entries SET seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_entries) AS numbered "
        "WHERE audit_entries.id = numbered.id"
    )

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_seq'), ['seq'])
        batch_op.create_index('ix_audit_entries_unsealed', ['id'], unique=False,
                              sqlite_where=sa.text('seq IS NULL'),
                              postgresql_where=sa.text('seq IS NULL'))

    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    unsealed = bind.execute(
        sa.text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")
    ).scalar_one()
    if unsealed:
        raise RuntimeError(
            f"{unsealed} audit entries are not sealed yet: run `registry audit seal` "
            "before downgrading (the older schema requires every entry chained)."
        )
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_append_only()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_unsealed', sqlite_where=sa.text('seq IS NULL'),
                            postgresql_where=sa.text('seq IS NULL'))
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_seq'), type_='unique')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('seq')
