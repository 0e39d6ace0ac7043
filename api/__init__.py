"""HTTP API, websockets and the live map (issue 5)."""
