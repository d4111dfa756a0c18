"""registry core schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:21:02.710162
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op




revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=40), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_entries_hash'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_entries_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_audit_entries_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_entries_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('comprehension_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_version', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('correct_choice', sa.String(length=10), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comprehension_questions')),
    sa.UniqueConstraint('bank_version', 'key', name=op.f('uq_comprehension_questions_bank_version_key'))
    )
    op.create_table('pharmacies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('ncpdp_id', sa.String(length=7), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_on', sa.Date(), nullable=True),
    sa.Column('suspended_until', sa.Date(), nullable=True),
    sa.Column('deactivated_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pharmacies')),
    sa.UniqueConstraint('ncpdp_id', name=op.f('uq_pharmacies_ncpdp_id')),
    sa.UniqueConstraint('npi', name=op.f('uq_pharmacies_npi'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.CheckConstraint("role IN ('prescriber', 'designee', 'pharmacist', 'patient', 'staff')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('compliance_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("action != 'suspension' OR until IS NOT NULL", name=op.f('ck_compliance_actions_suspension_until')),
    sa.CheckConstraint("action IN ('notice', 'warning', 'suspension', 'deactivation')", name=op.f('ck_compliance_actions_action')),
    sa.CheckConstraint("subject_type IN ('prescriber', 'designee', 'pharmacy', 'pharmacist')", name=op.f('ck_compliance_actions_subject_type')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_compliance_actions_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_actions'))
    )
    with op.batch_alter_table('compliance_actions', schema=None) as batch_op:
        batch_op.create_index('ix_compliance_actions_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('designees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attested_on', sa.Date(), nullable=True),
    sa.Column('suspended_until', sa.Date(), nullable=True),
    sa.Column('deactivated_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_designees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_designees')),
    sa.UniqueConstraint('user_id', name=op.f('uq_designees_user_id'))
    )
    op.create_table('pharmacists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.Integer(), nullable=False),
    sa.Column('license_number', sa.String(length=50), nullable=False),
    sa.Column('is_rsp', sa.Boolean(), nullable=False),
    sa.Column('training_completed_on', sa.Date(), nullable=True),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('suspended_until', sa.Date(), nullable=True),
    sa.Column('deactivated_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['pharmacy_id'], ['pharmacies.id'], name=op.f('fk_pharmacists_pharmacy_id_pharmacies')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pharmacists_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pharmacists')),
    sa.UniqueConstraint('user_id', name=op.f('uq_pharmacists_user_id'))
    )
    with op.batch_alter_table('pharmacists', schema=None) as batch_op:
        batch_op.create_index('ix_pharmacists_pharmacy_id', ['pharmacy_id'], unique=False)

    op.create_table('prescribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('license_state', sa.String(length=2), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attested_on', sa.Date(), nullable=True),
    sa.Column('suspended_until', sa.Date(), nullable=True),
    sa.Column('deactivated_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_prescribers_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prescribers')),
    sa.UniqueConstraint('npi', name=op.f('uq_prescribers_npi')),
    sa.UniqueConstraint('user_id', name=op.f('uq_prescribers_user_id'))
    )
    op.create_table('designee_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designee_id', sa.Integer(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('linked_on', sa.Date(), nullable=False),
    sa.Column('unlinked_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['designee_id'], ['designees.id'], name=op.f('fk_designee_links_designee_id_designees')),
    sa.ForeignKeyConstraint(['prescriber_id'], ['prescribers.id'], name=op.f('fk_designee_links_prescriber_id_prescribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_designee_links')),
    sa.UniqueConstraint('designee_id', 'prescriber_id', name=op.f('uq_designee_links_designee_id_prescriber_id'))
    )
    with op.batch_alter_table('designee_links', schema=None) as batch_op:
        batch_op.create_index('ix_designee_links_prescriber_id', ['prescriber_id'], unique=False)

    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registry_id', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('risk_category', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_on', sa.Date(), nullable=True),
    sa.Column('consent_signed_on', sa.Date(), nullable=False),
    sa.Column('consent_version', sa.String(length=20), nullable=False),
    sa.Column('birth_defects_consent_signed_on', sa.Date(), nullable=True),
    sa.Column('guardian_name', sa.String(length=200), nullable=True),
    sa.Column('guardian_signed_on', sa.Date(), nullable=True),
    sa.Column('contraception_start_on', sa.Date(), nullable=True),
    sa.Column('home_tests_allowed', sa.Boolean(), nullable=False),
    sa.Column('course_number', sa.Integer(), nullable=False),
    sa.Column('course_started_on', sa.Date(), nullable=False),
    sa.Column('last_dose_on', sa.Date(), nullable=True),
    sa.Column('treatment_completed_on', sa.Date(), nullable=True),
    sa.Column('deactivated_on', sa.Date(), nullable=True),
    sa.CheckConstraint("risk_category IN ('can_get_pregnant', 'cannot_get_pregnant')", name=op.f('ck_patients_risk_category')),
    sa.CheckConstraint("status IN ('pending_activation', 'active', 'treatment_ended', 'treatment_complete', 'deactivated')", name=op.f('ck_patients_status')),
    sa.ForeignKeyConstraint(['prescriber_id'], ['prescribers.id'], name=op.f('fk_patients_prescriber_id_prescribers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_patients_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('registry_id', name=op.f('uq_patients_registry_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_patients_user_id'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_prescriber_id_last_name', ['prescriber_id', 'last_name'], unique=False)

    op.create_table('activation_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_activation_codes_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_codes'))
    )
    with op.batch_alter_table('activation_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activation_codes_patient_id'), ['patient_id'], unique=False)

    op.create_table('pregnancy_tests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_number', sa.Integer(), nullable=False),
    sa.Column('specimen_collected_on', sa.Date(), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('setting', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('screening', 'confirmation', 'monthly', 'end_of_treatment', 'post_treatment')", name=op.f('ck_pregnancy_tests_purpose')),
    sa.CheckConstraint("result IN ('negative', 'positive')", name=op.f('ck_pregnancy_tests_result')),
    sa.CheckConstraint("setting IN ('lab', 'office', 'home')", name=op.f('ck_pregnancy_tests_setting')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_pregnancy_tests_entered_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_pregnancy_tests_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy_tests'))
    )
    with op.batch_alter_table('pregnancy_tests', schema=None) as batch_op:
        batch_op.create_index('ix_pregnancy_tests_patient_id_specimen', ['patient_id', 'specimen_collected_on'], unique=False)

    op.create_table('risk_category_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('from_category', sa.String(length=30), nullable=True),
    sa.Column('to_category', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_risk_category_changes_changed_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_risk_category_changes_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_category_changes'))
    )
    with op.batch_alter_table('risk_category_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_category_changes_patient_id'), ['patient_id'], unique=False)

    op.create_table('cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('course_number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ruleset', sa.String(length=4), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=True),
    sa.Column('pregnancy_test_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('test_window', 'counseling_window', 'per_authorization')", name=op.f('ck_cycles_kind')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_cycles_patient_id_patients')),
    sa.ForeignKeyConstraint(['pregnancy_test_id'], ['pregnancy_tests.id'], name=op.f('fk_cycles_pregnancy_test_id_pregnancy_tests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles')),
    sa.UniqueConstraint('patient_id', 'number', name=op.f('uq_cycles_patient_id_number'))
    )
    op.create_table('pregnancy_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reporter_role', sa.String(length=20), nullable=False),
    sa.Column('pregnancy_test_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('outcome_on', sa.Date(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_pregnancy_reports_lifted_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_pregnancy_reports_patient_id_patients')),
    sa.ForeignKeyConstraint(['pregnancy_test_id'], ['pregnancy_tests.id'], name=op.f('fk_pregnancy_reports_pregnancy_test_id_pregnancy_tests')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_pregnancy_reports_reported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy_reports'))
    )
    with op.batch_alter_table('pregnancy_reports', schema=None) as batch_op:
        batch_op.create_index('ix_pregnancy_reports_patient_id', ['patient_id'], unique=False)

    op.create_table('authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rma', sa.String(length=12), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.Integer(), nullable=False),
    sa.Column('pharmacist_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('ruleset', sa.String(length=4), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('do_not_dispense_after', sa.Date(), nullable=False),
    sa.Column('days_supply', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('refills', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('authorized', 'dispensed', 'reversed', 'expired', 'cancelled')", name=op.f('ck_authorizations_status')),
    sa.CheckConstraint('days_supply > 0', name=op.f('ck_authorizations_days_supply_positive')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_authorizations_quantity_positive')),
    sa.CheckConstraint('refills = 0', name=op.f('ck_authorizations_no_refills')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_authorizations_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_authorizations_patient_id_patients')),
    sa.ForeignKeyConstraint(['pharmacist_id'], ['pharmacists.id'], name=op.f('fk_authorizations_pharmacist_id_pharmacists')),
    sa.ForeignKeyConstraint(['pharmacy_id'], ['pharmacies.id'], name=op.f('fk_authorizations_pharmacy_id_pharmacies')),
    sa.ForeignKeyConstraint(['prescriber_id'], ['prescribers.id'], name=op.f('fk_authorizations_prescriber_id_prescribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorizations')),
    sa.UniqueConstraint('rma', name=op.f('uq_authorizations_rma'))
    )
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.create_index('ix_authorizations_patient_id', ['patient_id'], unique=False)
        batch_op.create_index('ix_authorizations_pharmacy_id_issued_at', ['pharmacy_id', 'issued_at'], unique=False)
        batch_op.create_index('uq_authorizations_one_live_per_cycle', ['cycle_id'], unique=True, sqlite_where=sa.text("status IN ('authorized', 'dispensed')"), postgresql_where=sa.text("status IN ('authorized', 'dispensed')"))
        batch_op.create_index('uq_authorizations_one_open_per_patient', ['patient_id'], unique=True, sqlite_where=sa.text("status = 'authorized'"), postgresql_where=sa.text("status = 'authorized'"))

    op.create_table('comprehension_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=True),
    sa.Column('course_number', sa.Integer(), nullable=False),
    sa.Column('bank_version', sa.String(length=20), nullable=False),
    sa.Column('question_ids', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('incorrect', sa.JSON(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_comprehension_attempts_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_comprehension_attempts_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comprehension_attempts'))
    )
    with op.batch_alter_table('comprehension_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_comprehension_attempts_patient_id', ['patient_id'], unique=False)

    op.create_table('contraception_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('methods', sa.JSON(), nullable=True),
    sa.Column('abstinence', sa.Boolean(), nullable=False),
    sa.Column('matches_prescriber', sa.Boolean(), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_contraception_entries_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_contraception_entries_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contraception_entries'))
    )
    with op.batch_alter_table('contraception_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contraception_entries_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index('ix_contraception_entries_patient_id', ['patient_id'], unique=False)

    op.create_table('counselings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=True),
    sa.Column('course_number', sa.Integer(), nullable=False),
    sa.Column('counseled_on', sa.Date(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('methods', sa.JSON(), nullable=True),
    sa.Column('abstinence', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_counselings_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_counselings_patient_id_patients')),
    sa.ForeignKeyConstraint(['prescriber_id'], ['prescribers.id'], name=op.f('fk_counselings_prescriber_id_prescribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counselings'))
    )
    with op.batch_alter_table('counselings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counselings_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index('ix_counselings_patient_id', ['patient_id'], unique=False)

    op.create_table('pregnancy_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_pregnancy_follow_ups_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['pregnancy_reports.id'], name=op.f('fk_pregnancy_follow_ups_report_id_pregnancy_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy_follow_ups'))
    )
    with op.batch_alter_table('pregnancy_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pregnancy_follow_ups_report_id'), ['report_id'], unique=False)

    op.create_table('authorization_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_on', sa.Date(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('pharmacist_id', sa.Integer(), nullable=True),
    sa.Column('pharmacy_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('eligible', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('ruleset', sa.String(length=4), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_authorization_decisions_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_authorization_decisions_patient_id_patients')),
    sa.ForeignKeyConstraint(['pharmacist_id'], ['pharmacists.id'], name=op.f('fk_authorization_decisions_pharmacist_id_pharmacists')),
    sa.ForeignKeyConstraint(['pharmacy_id'], ['pharmacies.id'], name=op.f('fk_authorization_decisions_pharmacy_id_pharmacies')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_authorization_decisions_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_decisions')),
    sa.UniqueConstraint('requested_by_id', 'idempotency_key', name=op.f('uq_authorization_decisions_requested_by_id_idempotency_key'))
    )
    with op.batch_alter_table('authorization_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_authorization_decisions_pharmacy_id', ['pharmacy_id'], unique=False)
        batch_op.create_index('ix_authorization_decisions_patient_id', ['patient_id'], unique=False)
        batch_op.create_index('ix_authorization_decisions_requested_at', ['requested_at'], unique=False)

    op.create_table('dispenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('dispensed_on', sa.Date(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('days_supply', sa.Integer(), nullable=False),
    sa.Column('pharmacist_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_dispenses_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_dispenses_patient_id_patients')),
    sa.ForeignKeyConstraint(['pharmacist_id'], ['pharmacists.id'], name=op.f('fk_dispenses_pharmacist_id_pharmacists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispenses')),
    sa.UniqueConstraint('authorization_id', name=op.f('uq_dispenses_authorization_id'))
    )
    with op.batch_alter_table('dispenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispenses_patient_id'), ['patient_id'], unique=False)

    op.create_table('reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('pharmacist_id', sa.Integer(), nullable=False),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_reversals_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['pharmacist_id'], ['pharmacists.id'], name=op.f('fk_reversals_pharmacist_id_pharmacists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reversals')),
    sa.UniqueConstraint('authorization_id', name=op.f('uq_reversals_authorization_id'))
    )


def downgrade() -> None:
    op.drop_table('reversals')
    with op.batch_alter_table('dispenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispenses_patient_id'))

    op.drop_table('dispenses')
    with op.batch_alter_table('authorization_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_authorization_decisions_requested_at')
        batch_op.drop_index('ix_authorization_decisions_patient_id')
        batch_op.drop_index('ix_authorization_decisions_pharmacy_id')

    op.drop_table('authorization_decisions')
    with op.batch_alter_table('pregnancy_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pregnancy_follow_ups_report_id'))

    op.drop_table('pregnancy_follow_ups')
    with op.batch_alter_table('counselings', schema=None) as batch_op:
        batch_op.drop_index('ix_counselings_patient_id')
        batch_op.drop_index(batch_op.f('ix_counselings_cycle_id'))

    op.drop_table('counselings')
    with op.batch_alter_table('contraception_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_contraception_entries_patient_id')
        batch_op.drop_index(batch_op.f('ix_contraception_entries_cycle_id'))

    op.drop_table('contraception_entries')
    with op.batch_alter_table('comprehension_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_comprehension_attempts_patient_id')

    op.drop_table('comprehension_attempts')
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_index('uq_authorizations_one_open_per_patient', sqlite_where=sa.text("status = 'authorized'"), postgresql_where=sa.text("status = 'authorized'"))
        batch_op.drop_index('uq_authorizations_one_live_per_cycle', sqlite_where=sa.text("status IN ('authorized', 'dispensed')"), postgresql_where=sa.text("status IN ('authorized', 'dispensed')"))
        batch_op.drop_index('ix_authorizations_pharmacy_id_issued_at')
        batch_op.drop_index('ix_authorizations_patient_id')

    op.drop_table('authorizations')
    with op.batch_alter_table('pregnancy_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_pregnancy_reports_patient_id')

    op.drop_table('pregnancy_reports')
    op.drop_table('cycles')
    with op.batch_alter_table('risk_category_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_category_changes_patient_id'))

    op.drop_table('risk_category_changes')
    with op.batch_alter_table('pregnancy_tests', schema=None) as batch_op:
        batch_op.drop_index('ix_pregnancy_tests_patient_id_specimen')

    op.drop_table('pregnancy_tests')
    with op.batch_alter_table('activation_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activation_codes_patient_id'))

    op.drop_table('activation_codes')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_prescriber_id_last_name')

    op.drop_table('patients')
    with op.batch_alter_table('designee_links', schema=None) as batch_op:
        batch_op.drop_index('ix_designee_links_prescriber_id')

    op.drop_table('designee_links')
    op.drop_table('prescribers')
    with op.batch_alter_table('pharmacists', schema=None) as batch_op:
        batch_op.drop_index('ix_pharmacists_pharmacy_id')

    op.drop_table('pharmacists')
    op.drop_table('designees')
    with op.batch_alter_table('compliance_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_compliance_actions_subject')

    op.drop_table('compliance_actions')
    op.drop_table('users')
    op.drop_table('pharmacies')
    op.drop_table('comprehension_questions')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_subject')
        batch_op.drop_index('ix_audit_entries_occurred_at')
        batch_op.drop_index('ix_audit_entries_user_id')
        batch_op.drop_index('ix_audit_entries_action')

    op.drop_table('audit_entries')
