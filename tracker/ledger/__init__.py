"""The Excel ledger (台账): export, import with a dry run, the blank template."""
