"""One module per `landun` sub-command group; each exposes `register(subparsers)`."""
