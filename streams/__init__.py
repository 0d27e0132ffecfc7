"""Streaming layer: the engine, the Faust app and agents, web views, delivery, archive, CLI."""
