#!/usr/bin/python3
"""Kafka throughput driver for scripts/bench/kafka.ts (Debian python3-confluent-kafka = librdkafka).

  kafka_client.py (--bootstrap HOST:PORT | --mock) --records N [--cases 100:1,100:all,1024:1,1024:all]
                  [--produce-only] [--warmup N] [--server-pid PID]

For each case (record size in bytes : acks) it creates a one-partition topic,
produces N records (N/8 for records over 256 B) with a tuned producer
(linger.ms=5, batch.size=1 MB, no compression, 5 requests in flight), waits
for every delivery report, then consumes the same records from offset 0 with
an assigned consumer (no group protocol). With --server-pid it also reports
that process's CPU time per phase (from /proc). Prints one JSON object per case:
  {"size", "acks", "records", "produce_s", "consume_s", "consume_partitions",
   "server_cpu_produce_s", "server_cpu_consume_s", "produce_errors", "topic"}

--mock runs against librdkafka's built-in mock cluster (test.mock.num.brokers=1),
an in-memory C broker inside this process: the baseline of the benchmark.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

PRODUCER_TUNING = {
    "linger.ms": 5,
    "batch.size": 1000000,
    "batch.num.messages": 1000000,
    "compression.type": "none",
    "max.in.flight.requests.per.connection": 5,
    "enable.idempotence": False,
    "queue.buffering.max.messages": 2000000,
    "queue.buffering.max.kbytes": 1048576,
    "delivery.report.only.error": True,
    "message.timeout.ms": 60000,
}

CONSUMER_TUNING = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "fetch.wait.max.ms": 100,
    "fetch.max.bytes": 52428800,
    "max.partition.fetch.bytes": 4194304,
    "queued.min.messages": 1000000,
    "queued.max.messages.kbytes": 262144,
    "check.crcs": False,
}


def start_mock():
    """Start librdkafka's mock cluster in this process; return (keeper, mcluster, lib, bootstrap)."""
    keeper = Producer({"test.mock.num.brokers": 1, "log_level": 0})
    lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
    lib.rd_kafka_name.restype = ctypes.c_char_p
    lib.rd_kafka_name.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_handle_mock_cluster.restype = ctypes.c_void_p
    lib.rd_kafka_handle_mock_cluster.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    # confluent_kafka's Handle object starts with PyObject_HEAD, then `rd_kafka_t *rk`.
    offset = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    rk = ctypes.c_void_p.from_address(id(keeper) + offset).value
    if not rk or not lib.rd_kafka_name(rk).startswith(b"rdkafka#producer"):
        sys.exit("kafka_client.py: could not find the rd_kafka_t handle in this confluent_kafka version")
    mcluster = lib.rd_kafka_handle_mock_cluster(rk)
    return keeper, mcluster, lib, lib.rd_kafka_mock_cluster_bootstraps(mcluster).decode()


def create_topic(bootstrap, topic, mock, partitions=1):
    if mock is not None:
        _, mcluster, lib, _ = mock
        err = lib.rd_kafka_mock_topic_create(mcluster, topic.encode(), partitions, 1)
        if err != 0:
            sys.exit(f"kafka_client.py: mock topic create failed: {err}")
        return
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        fut.result(timeout=30)


def produce(bootstrap, topic, size, acks, n, partitions=1):
    """Produce n records (after one untimed warm-up record); with several partitions, in blocks."""
    errors = []

    def on_error(err, _msg):
        if err is not None:
            errors.append(str(err))

    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "on_delivery": on_error, **PRODUCER_TUNING})
    # Warm up: metadata and connection, outside the timed part.
    p.produce(topic, b"w" * size, partition=0)
    if p.flush(30) != 0:
        sys.exit("kafka_client.py: warm-up record not delivered")
    value = bytes((i * 31) & 0xFF for i in range(size))
    send = p.produce
    poll = p.poll
    per = -(-n // partitions)
    t0 = time.perf_counter()
    for part in range(partitions):
        i = part * per
        end = min(n, i + per)
        while i < end:
            try:
                send(topic, value, partition=part)
                i += 1
                if i & 0x3FFF == 0:
                    poll(0)
            except BufferError:
                poll(0.001)
    left = p.flush(120)
    elapsed = time.perf_counter() - t0
    if left != 0:
        errors.append(f"{left} records not delivered")
    return elapsed, errors


def consume(bootstrap, topic, partitions, want):
    """Read `want` records from offset 0 of every partition; timed from the assignment."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-" + topic, **CONSUMER_TUNING})
    got = 0
    t0 = time.perf_counter()
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    deadline = time.monotonic() + 120
    while got < want and time.monotonic() < deadline:
        # consume() returns once it has num_messages (or at the timeout): never ask past the end.
        msgs = c.consume(num_messages=min(10000, want - got), timeout=1.0)
        for m in msgs:
            err = m.error()
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                sys.exit(f"kafka_client.py: consume error: {err}")
        got += len(msgs)
    elapsed = time.perf_counter() - t0
    c.close()
    if got < want:
        sys.exit(f"kafka_client.py: consumed only {got} of {want} records of {topic}")
    return elapsed


# The mock cluster keeps only the last ~5 MB of a partition (librdkafka trims its
# log), so its consume baseline reads the same records spread over enough partitions.
MOCK_PARTITION_BYTES = 3 * 1024 * 1024


SERVER_PID = None


def server_cpu():
    """CPU seconds (user + system) used so far by the broker process (--server-pid), else 0."""
    if SERVER_PID is None:
        return 0.0
    with open(f"/proc/{SERVER_PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    global SERVER_PID
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap")
    ap.add_argument("--mock", action="store_true")
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--cases", default="100:1,100:all,1024:1,1024:all")
    ap.add_argument("--produce-only", action="store_true")
    ap.add_argument("--warmup", type=int, default=0, help="untimed 100 B records produced (and consumed) first")
    ap.add_argument("--server-pid", type=int, help="report this process's CPU time per phase")
    args = ap.parse_args()
    SERVER_PID = args.server_pid
    mock = start_mock() if args.mock else None
    bootstrap = mock[3] if mock is not None else args.bootstrap
    if not bootstrap:
        sys.exit("kafka_client.py: give --bootstrap HOST:PORT or --mock")
    if args.warmup > 0:
        # Untimed: let the broker's JIT and caches warm up (a long-running broker is warm).
        topic = f"bench-warmup-{uuid.uuid4().hex[:8]}"
        create_topic(bootstrap, topic, mock)
        produce(bootstrap, topic, 100, "1", args.warmup)
        if not args.produce_only and mock is None:
            consume(bootstrap, topic, 1, args.warmup + 1)
    for case in args.cases.split(","):
        size_s, acks = case.split(":")
        size = int(size_s)
        n = args.records if size <= 256 else max(1, args.records // 8)
        topic = f"bench-{size}-{acks.replace('-', 'm')}-{uuid.uuid4().hex[:8]}"
        create_topic(bootstrap, topic, mock)
        cpu0 = server_cpu()
        produce_s, errors = produce(bootstrap, topic, size, acks, n)
        cpu1 = server_cpu()
        produced_topic = topic
        consume_partitions = 1
        if mock is not None and not args.produce_only:
            consume_partitions = max(1, -(-n * (size + 12) // MOCK_PARTITION_BYTES))
            topic = topic + "-spread"
            create_topic(bootstrap, topic, mock, consume_partitions)
            produce(bootstrap, topic, size, acks, n, consume_partitions)
        cpu2 = server_cpu()
        consume_s = 0.0 if args.produce_only else consume(bootstrap, topic, consume_partitions, n + 1)
        cpu3 = server_cpu()
        print(
            json.dumps(
                {
                    "size": size,
                    "acks": acks,
                    "records": n,
                    "produce_s": produce_s,
                    "consume_s": consume_s,
                    "consume_partitions": consume_partitions,
                    "server_cpu_produce_s": cpu1 - cpu0,
                    "server_cpu_consume_s": cpu3 - cpu2,
                    "produce_errors": errors[:5],
                    "topic": produced_topic,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
