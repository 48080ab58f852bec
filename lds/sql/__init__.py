"""The SQL API's core (no Flask): who may run which SQL text on which connection."""
