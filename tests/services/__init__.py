"""Tests against the real Kafka and Redis of `make services`."""

import warnings

# kafka-python 3.0 reads its ~100 protocol schemas with deprecated importlib.resources calls when
# it is first imported; keep those two hundred warnings out of every test report.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "(read|open)_text is deprecated", DeprecationWarning)
    import kafka  # noqa: F401
