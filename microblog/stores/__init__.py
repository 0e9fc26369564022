"""Data access: all SQL of a service in one module, all DynamoDB calls in another."""
