"""Alembic environment: the database URL comes from the app's configuration."""

from __future__ import annotations

import warnings
from logging.config import fileConfig

from alembic import context

from registry.db import make_engine
from registry.models import Base

config = context.config
if config.config_file_name is not None and not config.attributes.get("sqlalchemy_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Trigram indexes (registry.db.trigram_index) exist on PostgreSQL only: nothing to compare
# on SQLite, which cannot reflect expression indexes anyway.
warnings.filterwarnings(
    "ignore", message=r"autogenerate skipping metadata-specified expression-based index '\w+_trgm'")


def database_url() -> str:
    url = config.attributes.get("sqlalchemy_url")
    if url:
        return str(url)
    from registry import create_app

    return str(create_app().config["SQLALCHEMY_URL"])


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
