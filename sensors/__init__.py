"""Sensor side: reading schemas, decoders, registry, geo-referencing, gateways, simulator."""
