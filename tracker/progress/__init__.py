"""Where each project stands over time: the stage history (``StageEvent``), the per-stage
deadlines (``StageDeadline``) and the red/yellow lights computed from them."""
