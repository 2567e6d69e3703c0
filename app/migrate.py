"""Running Alembic from the application (``flask db ...``) and from tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import REPO_ROOT


def alembic_config(database_url: str) -> Config:
    """Alembic configuration for ``database_url``, independent of the working directory."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
