"""Sensor gateways: HTTP ingest, UDP/TCP NMEA listeners and a client, over one ingest core.

Every transport hands readings to :class:`~sensors.gateway.core.IngestCore`, which validates
them and passes the good ones to a :class:`~sensors.gateway.forward.Forwarder`: Kafka when it
answers, the on-disk :class:`~sensors.gateway.spool.Spool` when it does not. A reading is
acknowledged to its sender only once Kafka acked it or it is fsynced in the spool.
"""
