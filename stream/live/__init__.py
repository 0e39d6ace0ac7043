"""The live view the stream workers keep in Redis (positions, alerts) and its rebuild."""
