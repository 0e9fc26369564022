"""Data access: all SQL of a service in one module, all DynamoDB calls in another."""

# Ids are 64-bit signed integers in SQLite and PostgreSQL, and kept so in DynamoDB;
# a larger number in a request names nothing, and the stores would refuse to bind it.
MAX_ID = 2**63 - 1


def id_below(before: int | None) -> int:
    """An exclusive upper bound on ids: all of them when no cursor is given or
    the cursor is past any id."""
    return MAX_ID if before is None else min(before, MAX_ID)


def can_exist(item_id: int) -> bool:
    return 0 < item_id <= MAX_ID
