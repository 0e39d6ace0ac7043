"""Alert rules, one module per family (see docs/formats.md "Violation semantics").

- ``manifest``: unmatched_source, unmatched_disposal, unapproved_terminal, unpermitted_load
- ``route``: route_deviation
- ``restricted``: restricted_zone (inside, or crossing between sparse pings)
- ``overspeed``: overspeed
- ``cover``: uncovered_load
- ``dumping``: suspected_dumping (loaded stop outside known places, tipper lift)
- ``signal``: signal_lost
- ``kitchen``: unregistered_collection, undelivered_collection

Every rule dates its alert at the event that started the behaviour and takes its evidence from
pings and anchors kept in state, so the same input always gives the same alert.
"""
