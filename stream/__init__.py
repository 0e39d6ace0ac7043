"""Pure streaming engine: ping hygiene, per-vehicle state machine, alerts (issue 3)."""
