"""Every DynamoDB call about direct messages. Lists are Queries on the indexes
that create_table.py defines, never Scans; no transactions are needed because
ids come from an atomic counter and each message is written once."""
from . import MAX_ID, can_exist, id_below
from ..dynamo import from_item, to_item
from ..timestamps import utc_now

BATCH_WRITE = 25  # DynamoDB's limit per BatchWriteItem


def pair_key(a: str, b: str) -> str:
    return "#".join(sorted((a.lower(), b.lower())))


def new_item(message_id: int, sender: str, recipient: str, msg: str, timestamp: str,
             reply_to: int | None = None, quick_replies: list[str] | None = None) -> dict:
    """A message as stored, with the keys of the indexes it belongs to."""
    item = {"id": message_id, "sender": sender, "recipient": recipient, "msg": msg,
            "timestamp": timestamp, "recipient_key": recipient.lower(),
            "pair_key": pair_key(sender, recipient)}
    if reply_to is not None:
        item["reply_to"] = reply_to
    if quick_replies:
        item["quick_replies"] = quick_replies
        item["quick_key"] = f"{sender.lower()}#{recipient.lower()}"
    return item


def render(item: dict) -> dict:
    """The one shape of a message wherever it appears."""
    return {"id": item["id"], "from": item["sender"], "to": item["recipient"],
            "msg": item["msg"], "timestamp": item["timestamp"],
            "reply_to": item.get("reply_to"), "quick_replies": item.get("quick_replies", [])}


class MessageStore:
    def __init__(self, client, prefix: str):
        self.client = client
        self.messages = f"{prefix}messages"
        self.counters = f"{prefix}counters"

    def next_id(self, count: int = 1) -> int:
        """Reserve `count` consecutive ids atomically; the first of them."""
        answer = self.client.update_item(
            TableName=self.counters, Key={"name": {"S": "message"}},
            UpdateExpression="ADD #value :count",
            ExpressionAttributeNames={"#value": "value"},
            ExpressionAttributeValues={":count": {"N": str(count)}}, ReturnValues="UPDATED_NEW")
        return int(answer["Attributes"]["value"]["N"]) - count + 1

    def add(self, sender: str, recipient: str, msg: str, reply_to: int | None = None,
            quick_replies: list[str] | None = None, message_id: int | None = None,
            timestamp: str | None = None) -> dict:
        """Store a new message under a fresh id (or the given one) and return it."""
        item = new_item(message_id if message_id is not None else self.next_id(), sender,
                        recipient, msg, timestamp or utc_now(), reply_to, quick_replies)
        self.client.put_item(TableName=self.messages, Item=to_item(item),
                             ConditionExpression="attribute_not_exists(id)")
        return item

    def add_many(self, items, progress=lambda n: None) -> int:
        """Bulk-load ready-made items (ids reserved by the caller); how many."""
        written, batch = 0, []
        for item in items:
            batch.append({"PutRequest": {"Item": to_item(item)}})
            if len(batch) == BATCH_WRITE:
                self._write(batch)
                written += len(batch)
                progress(len(batch))
                batch = []
        if batch:
            self._write(batch)
            written += len(batch)
            progress(len(batch))
        return written

    def _write(self, batch: list) -> None:
        pending = {self.messages: batch}
        while pending:  # DynamoDB may hand back part of a batch when throttled
            pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems")

    def get(self, message_id: int) -> dict | None:
        if not can_exist(message_id):
            return None
        answer = self.client.get_item(TableName=self.messages, Key={"id": {"N": str(message_id)}},
                                      ConsistentRead=True)
        return from_item(answer["Item"]) if "Item" in answer else None

    def inbox(self, username: str, before: int | None, limit: int) -> list[dict]:
        return self._newest("inbox", "recipient_key", username.lower(), before, limit)

    def conversation(self, a: str, b: str, before: int | None, limit: int) -> list[dict]:
        return self._newest("conversation", "pair_key", pair_key(a, b), before, limit)

    def replies(self, message_id: int, after: int | None, limit: int) -> list[dict]:
        after = min(after or 0, MAX_ID)
        return self._query("replies", "reply_to", {"N": str(message_id)}, ">", after,
                           forward=True, limit=limit)

    def latest_with_quick_replies(self, sender: str, recipient: str) -> dict | None:
        found = self._newest("quick", "quick_key", f"{sender.lower()}#{recipient.lower()}",
                             None, 1)
        return found[0] if found else None

    def raise_counter(self, value: int) -> None:
        """Make sure the counter is at least value (after loading fixed ids)."""
        try:
            self.client.update_item(
                TableName=self.counters, Key={"name": {"S": "message"}},
                UpdateExpression="SET #value = :v",
                ConditionExpression="attribute_not_exists(#value) OR #value < :v",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues={":v": {"N": str(value)}})
        except self.client.exceptions.ConditionalCheckFailedException:
            pass

    def marked(self, name: str) -> bool:
        answer = self.client.get_item(TableName=self.counters, Key={"name": {"S": name}},
                                      ConsistentRead=True)
        return "Item" in answer

    def mark(self, name: str) -> None:
        """Record a one-time fact, such as that the seed data was loaded."""
        self.client.put_item(TableName=self.counters, Item={"name": {"S": name}})

    def _newest(self, index: str, key: str, value: str, before: int | None, limit: int) -> list:
        return self._query(index, key, {"S": value}, "<", id_below(before),
                           forward=False, limit=limit)

    def _query(self, index: str, key: str, value: dict, op: str, bound: int, forward: bool,
               limit: int) -> list[dict]:
        request = {
            "TableName": self.messages, "IndexName": index,
            "KeyConditionExpression": f"#key = :key AND #id {op} :bound",
            "ExpressionAttributeNames": {"#key": key, "#id": "id"},
            "ExpressionAttributeValues": {":key": value, ":bound": {"N": str(bound)}},
            "ScanIndexForward": forward, "Limit": limit,
        }
        items: list = []
        while True:  # a page may stop early at DynamoDB's 1 MB limit
            answer = self.client.query(**request)
            items.extend(answer["Items"])
            if len(items) >= limit or "LastEvaluatedKey" not in answer:
                return [from_item(item) for item in items[:limit]]
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            request["Limit"] = limit - len(items)
