"""The control plane (issue 18): every host ships its audit log here; behaviour rules judge it; kill
orders are served back. ``app`` is the HTTP API, ``store`` the database layer (SQLite or PostgreSQL),
``batch`` parses ingest batches, ``client`` is what hosts and people's commands use, ``config`` the
``server:`` policy section and the hook's cached view of the kill orders."""
