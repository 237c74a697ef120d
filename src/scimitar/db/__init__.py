"""The database: engine creation for SQLite and PostgreSQL, and schema migrations."""
