"""Backups that restore: ``flask backup create -o FILE`` and ``flask backup restore FILE``.

One ``.tar.gz`` holds a consistent snapshot of the database (SQLite's online backup API, or
``pg_dump`` in the custom format for PostgreSQL), the uploaded files and ``manifest.json``
(row count per table and the audit chain's last ``ID:HASH``, both read from the snapshot
itself). ``restore`` loads it into an empty database and upload folder, compares the counts
with the manifest and verifies the audit chain against the manifest's anchor.
"""
