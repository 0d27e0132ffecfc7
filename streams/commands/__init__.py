"""One module per ``borderfusion`` subcommand; each exposes ``register(subparsers)``."""
