"""The SQL store: SQLModel tables (models.py), engines and sessions (session.py), Alembic migrations."""
