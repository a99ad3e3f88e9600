#!/usr/bin/python3
"""librdkafka's mock Kafka cluster for the mirror tests (Debian python3-confluent-kafka).

Prints the cluster's bootstrap address on the first line, then reads commands
from stdin, one per line, answering "ok" (or "error ...") to each:
  down  - broker 1 drops its connections and refuses new ones (an uplink outage)
  up    - broker 1 accepts connections again
Exits when stdin closes (the test process ended).
"""
import ctypes
import ctypes.util
import sys

from confluent_kafka import Producer

producer = Producer({"test.mock.num.brokers": 1, "log_level": 0})
lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
lib.rd_kafka_name.restype = ctypes.c_char_p
lib.rd_kafka_name.argtypes = [ctypes.c_void_p]
lib.rd_kafka_handle_mock_cluster.restype = ctypes.c_void_p
lib.rd_kafka_handle_mock_cluster.argtypes = [ctypes.c_void_p]
lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
lib.rd_kafka_mock_broker_set_down.restype = ctypes.c_int
lib.rd_kafka_mock_broker_set_down.argtypes = [ctypes.c_void_p, ctypes.c_int32]
lib.rd_kafka_mock_broker_set_up.restype = ctypes.c_int
lib.rd_kafka_mock_broker_set_up.argtypes = [ctypes.c_void_p, ctypes.c_int32]

# confluent_kafka's Handle object starts with PyObject_HEAD, then `rd_kafka_t *rk`.
rk = ctypes.c_void_p.from_address(id(producer) + ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)).value
if not rk or not lib.rd_kafka_name(rk).startswith(b"rdkafka#producer"):
    sys.exit("mock-cluster.py: could not find the rd_kafka_t handle in this confluent_kafka version")
mcluster = lib.rd_kafka_handle_mock_cluster(rk)
print(lib.rd_kafka_mock_cluster_bootstraps(mcluster).decode(), flush=True)

for line in sys.stdin:
    cmd = line.strip()
    if cmd == "down":
        err = lib.rd_kafka_mock_broker_set_down(mcluster, 1)
    elif cmd == "up":
        err = lib.rd_kafka_mock_broker_set_up(mcluster, 1)
    else:
        print(f"error unknown command {cmd!r}", flush=True)
        continue
    print("ok" if err == 0 else f"error {err}", flush=True)
