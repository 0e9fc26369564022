"""The DynamoDB client: boto3 with its standard endpoint setting, so the same
code talks to the embedded dynalite, Amazon's DynamoDB Local or AWS."""
import os
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Fail fast when the store is down, so a caller gets 503 in seconds, not minutes.
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=3,
                       retries={"mode": "standard", "total_max_attempts": 2})


@lru_cache(maxsize=None)
def client(endpoint: str, region: str):
    """One thread-safe client per process and endpoint."""
    options = {}
    local = urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1")
    if local and not os.environ.get("AWS_ACCESS_KEY_ID"):
        # A local server accepts any credentials, but boto3 insists on some.
        options = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client("dynamodb", endpoint_url=endpoint or None, region_name=region,
                        config=CLIENT_CONFIG, **options)


def client_for(config) -> object:
    return client(config["DYNAMODB_ENDPOINT"], config["DYNAMODB_REGION"])


def to_item(values: dict) -> dict:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict) -> dict:
    def plain(value):
        if isinstance(value, Decimal):
            return int(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}
