# Real services on loopback for integration tests and local runs (docs/services.md):
# Kafka 4.x in KRaft mode on 127.0.0.1:$(LANDUN_KAFKA_PORT, 9092), Redis on
# 127.0.0.1:$(LANDUN_REDIS_PORT, 6379) and PostgreSQL on 127.0.0.1:$(LANDUN_PG_PORT, 5432).
# The targets are idempotent; data and logs are in var/.
.PHONY: services services-down services-status

services: $(STAMP)  # the venv's `landun db upgrade` applies the schema
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

services-status:
	bash scripts/services.sh status
