"""kafka-python's record-batch CRC-32C runs in C (google-crc32c) and agrees with the others."""

from __future__ import annotations

import os

from kafka.record import default_records, util
from kafka.record._crc32c import crc as pure_python_crc32c
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from sensors import kafka_crc


def test_install_replaces_the_pure_python_sum_with_the_same_sum() -> None:
    assert kafka_crc.install() is True  # google-crc32c's C code, no LGPL crc32c package
    # the batch builder and reader call it through default_records' own import
    assert default_records.calc_crc32c is util.calc_crc32c
    assert util.calc_crc32c.__module__ == kafka_crc.__name__
    data = bytearray(os.urandom(70_001))
    for view in (memoryview(data), memoryview(data)[61:], memoryview(bytes(data[:3]))):
        assert util.calc_crc32c(view) == pure_python_crc32c(view)


def test_a_batch_kafka_python_builds_checks_out_in_kafka_python_and_aiokafka() -> None:
    """The CRC written by the producer side is the one both readers verify (aiokafka's is
    its own Cython CRC-32C: an independent implementation)."""
    from aiokafka.record.default_records import DefaultRecordBatch as AioBatch

    kafka_crc.install()
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    values = [b'{"sensor_id":"R1","t":%d,"range_m":1200.5,"bearing_deg":33.1}' % i
              for i in range(500)]
    for i, value in enumerate(values):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"R1", value=value, headers=[])
    batch = bytes(builder.build())
    ours = DefaultRecordBatch(batch)
    assert ours.validate_crc()
    assert [bytes(r.value) for r in ours] == values
    theirs = AioBatch(batch)
    assert theirs.validate_crc()
    tampered = bytearray(batch)
    tampered[-5] ^= 0x01  # one bit of the last record's value
    assert not DefaultRecordBatch(bytes(tampered)).validate_crc()
