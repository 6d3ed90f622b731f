#!/usr/bin/env python3
"""Reads a keyflow topic the way a stock Kafka client does: kafka-python from Debian, in a
consumer group, with no compression codec installed beyond what the client has by itself
(no lz4, no snappy, no zstd).

    stock_consumer.py <bootstrap servers> <topic> <messages> <timeout seconds>

Prints each message as one JSON line ({"key", "headers", "value"}) until <messages> have
arrived, and exits 0; exits 1 when fewer arrived in time, 2 when the client could not read
them at all (an unsupported codec, for one), with the reason on stderr."""
import json
import sys
import time

from kafka import KafkaConsumer


def main() -> int:
    bootstrap, topic, wanted, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="stock-client",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout * 1000))
    read = 0
    deadline = time.monotonic() + timeout
    try:
        while read < wanted and time.monotonic() < deadline:
            for partition, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    print(json.dumps({
                        "key": m.key.decode() if m.key is not None else None,
                        "headers": {k: v.decode() for k, v in m.headers},
                        "value": m.value.decode(),
                    }), flush=True)
                    read += 1
    except Exception as error:  # what the client raises when it cannot decode a batch
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        consumer.close()
    return 0 if read >= wanted else 1


if __name__ == "__main__":
    sys.exit(main())
