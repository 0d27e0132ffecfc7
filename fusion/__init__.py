"""Pure fusion core: geodesy, filters, association, track management, correlation,
geofences, rules and metrics over NumPy arrays. No Kafka, no Faust, no web."""
