"""The DynamoDB schema of direct messages; `python create_table.py` creates the
tables alone (`flask init` does it too, then loads test-load.json).

messages: one item per message, keyed by its id (from the atomic counter).
Every listing is a Query on a global secondary index sorted by id:
  inbox         recipient_key            -> messages someone received
  conversation  pair_key ("a#b", sorted) -> both directions between two users
  replies       reply_to (only replies)  -> the replies to one message
  quick         quick_key (only messages offering quick replies) -> "sender#recipient"
counters: atomic counters and markers, keyed by name.
"""
import botocore.exceptions

INDEXES = {
    "inbox": ("recipient_key", "S"),
    "conversation": ("pair_key", "S"),
    "replies": ("reply_to", "N"),
    "quick": ("quick_key", "S"),
}


def table_definitions(prefix: str) -> list[dict]:
    messages = {
        "TableName": f"{prefix}messages",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}] + [
            {"AttributeName": key, "AttributeType": kind} for key, kind in INDEXES.values()],
        "GlobalSecondaryIndexes": [
            {"IndexName": name,
             "KeySchema": [{"AttributeName": key, "KeyType": "HASH"},
                           {"AttributeName": "id", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}}
            for name, (key, _kind) in INDEXES.items()],
    }
    counters = {
        "TableName": f"{prefix}counters",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
    }
    return [messages, counters]


def create_tables(client, prefix: str) -> list[str]:
    """Create the tables that do not exist yet; the names of those created."""
    created = []
    for definition in table_definitions(prefix):
        try:
            client.create_table(**definition)
            created.append(definition["TableName"])
        except client.exceptions.ResourceInUseException:
            continue
    for name in created:
        client.get_waiter("table_exists").wait(TableName=name,
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return created


def delete_tables(client, prefix: str) -> None:
    for definition in table_definitions(prefix):
        try:
            client.delete_table(TableName=definition["TableName"])
            client.get_waiter("table_not_exists").wait(TableName=definition["TableName"],
                                                       WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        except client.exceptions.ResourceNotFoundException:
            continue


if __name__ == "__main__":
    from microblog.config import settings
    from microblog.dynamo import client
    from microblog.embedded import embedded_dynamodb

    config = settings()
    with embedded_dynamodb(config["DYNAMODB_ENDPOINT"]):
        try:
            made = create_tables(client(config["DYNAMODB_ENDPOINT"], config["DYNAMODB_REGION"]),
                                 config["DYNAMODB_TABLE_PREFIX"])
        except botocore.exceptions.BotoCoreError as e:
            raise SystemExit(f"DynamoDB at {config['DYNAMODB_ENDPOINT']} failed: {e}")
    print(f"created: {', '.join(made)}" if made else "all tables exist already")
