"""The violation code names of docs/domain.md, shared by the simulator, the scorer and tests."""

ALERT_TYPES = (
    "overspeed",
    "restricted_zone",
    "route_deviation",
    "signal_lost",
    "suspected_dumping",
    "unapproved_terminal",
    "uncovered_load",
    "undelivered_collection",
    "unmatched_disposal",
    "unmatched_source",
    "unpermitted_load",
    "unregistered_collection",
    "unsourced_delivery",
)
