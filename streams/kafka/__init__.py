"""Kafka access for every newsstream process, and the one place aiokafka is imported.

- :mod:`streams.kafka.client`: :class:`KafkaConnection`, the aiokafka client factories and
  :func:`started_producer` (the producer handed to the watcher's publisher and the sinks);
- :mod:`streams.kafka.reads`: reads without a consumer group (a topic's size, its log up to
  now, which keys it holds, ``newsstream subscribe``);
- :mod:`streams.kafka.feed`: a sink's records from its consumer group, committed by hand;
- :mod:`streams.kafka.tansu`: :class:`EmbeddedBroker`, the embedded Tansu process;
- :mod:`streams.kafka.admin`: :func:`ensure_topics`, :func:`wait_for_broker`;
- :mod:`streams.kafka.compat`: every workaround for Tansu's differences from Apache Kafka.
"""

from streams.kafka.admin import (
    BrokerUnavailableError,
    TopicCreationError,
    TopicSpec,
    ensure_topics,
    wait_for_broker,
)
from streams.kafka.client import (
    FaustBrokerSettings,
    KafkaConnection,
    faust_broker_settings,
    new_consumer,
    new_producer,
)
from streams.kafka.compat import apply_tansu_compat, true_end_offsets
from streams.kafka.tansu import BrokerStartError, EmbeddedBroker

__all__ = [
    "BrokerStartError",
    "BrokerUnavailableError",
    "EmbeddedBroker",
    "FaustBrokerSettings",
    "KafkaConnection",
    "TopicCreationError",
    "TopicSpec",
    "apply_tansu_compat",
    "ensure_topics",
    "faust_broker_settings",
    "new_consumer",
    "new_producer",
    "true_end_offsets",
    "wait_for_broker",
]
