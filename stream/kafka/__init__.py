"""Kafka adapters of the streaming core (issue 4): topics, the record codec, the faust-streaming
worker, the synchronous producers and the reference-data topics.

Unlike ``stream.engine`` this package does I/O; the engine stays pure and is driven from here.
"""
