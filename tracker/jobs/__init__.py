"""Long work out of the request: warm, killable worker processes (pool), a job queue in the
database (models, operations), the runner that feeds it to the workers, and the job pages."""
