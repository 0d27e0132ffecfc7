"""Web views served by the worker's own web server (same event loop as the agents)."""
