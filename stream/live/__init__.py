"""The live read model: its ports (``ports``), in-memory twins (``memory``) and Redis adapters
(``redis``), the position record both writers build (``projection``), the worker's writer
(``view``) and its rebuild from Kafka (``rebuild``)."""
