"""Alert delivery to the people in the field: Cursor-on-Target to TAK servers and devices
(``cot``, ``tak``) and signed webhooks (``webhooks``), driven by the ``delivery`` role
(``service``) from the ``alerts`` topic. Configured by ``delivery.yaml`` (``config``)."""
