"""`flask init`: create both stores and load the seed data, idempotently."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from . import db as sql
from .config import ROOT, shared_secret
from .dynamo import client_for
from .embedded import embedded_dynamodb
from .seed import load_messages, load_sql, read_seed
from .stores.messages import MessageStore


@click.command("init")
@click.option("--reset", is_flag=True,
              help="Delete every user, tweet and message first. Nothing else deletes data.")
@with_appcontext
def init_command(reset: bool) -> None:
    """Create the SQLite schema and the DynamoDB tables, then load test-load.json.

    Running it again changes nothing; only --reset wipes."""
    import create_table  # the DynamoDB schema, a top-level script like schema.sql

    config = current_app.config
    seed = read_seed(ROOT / "test-load.json")
    shared_secret(config["DATA_DIR"])
    # The password hashes, messages and secret in there are for this account alone.
    os.chmod(config["DATA_DIR"], 0o700)
    db = sql.connect(config["DATABASE"])
    with embedded_dynamodb(config["DYNAMODB_ENDPOINT"]):
        dynamodb = client_for(config)
        prefix = config["DYNAMODB_TABLE_PREFIX"]
        if reset:
            sql.drop_schema(db)
            create_table.delete_tables(dynamodb, prefix)
            click.echo("Reset: deleted every user, tweet and direct message.")
        sql.create_schema(db)
        create_table.create_tables(dynamodb, prefix)
        loaded_sql = load_sql(db, seed)
        loaded_messages = load_messages(MessageStore(dynamodb, prefix), seed)
    db.close()
    click.echo(f"SQLite database: {config['DATABASE']}")
    click.echo(f"DynamoDB: {config['DYNAMODB_ENDPOINT']} (tables {prefix}*)")
    if loaded_sql or loaded_messages:
        click.echo(f"Loaded the seed: {len(seed['users'])} users, {len(seed['tweets'])} tweets,"
                   f" {len(seed['messages'])} direct messages.")
    else:
        click.echo("Everything was in place already; nothing changed.")


@click.command("seed")
@click.option("--users", default=10_000, show_default=True, help="Users to create.")
@click.option("--tweets", default=1_000_000, show_default=True, help="Tweets to post.")
@click.option("--messages", default=200_000, show_default=True, help="Direct messages to send.")
@click.option("--logins", default=100, show_default=True,
              help="How many of the users get the password (the rest cannot log in).")
@click.option("--password", default="benchpass", show_default=True)
@click.option("--prefix", default="bench_", show_default=True, help="Username prefix.")
@click.option("--random-seed", default=1, show_default=True, help="Same seed, same data.")
@with_appcontext
def seed_command(users: int, tweets: int, messages: int, logins: int, password: str,
                 prefix: str, random_seed: int) -> None:
    """Add generated scale data for benchmarks, on top of what is there."""
    import random

    import create_table
    from . import scale
    from .stores.users import find_user

    config = current_app.config
    rng = random.Random(random_seed)
    db = sql.connect(config["DATABASE"])
    sql.create_schema(db)
    if find_user(db, f"{prefix}0") is not None:
        raise click.ClickException(f"users named {prefix}* exist already; choose another --prefix.")
    with embedded_dynamodb(config["DYNAMODB_ENDPOINT"]):
        dynamodb = client_for(config)
        create_table.create_tables(dynamodb, config["DYNAMODB_TABLE_PREFIX"])
        store = MessageStore(dynamodb, config["DYNAMODB_TABLE_PREFIX"])
        with click.progressbar(length=users, label="users   ") as bar:
            made = scale.seed_users(db, users, logins, password, prefix, bar.update)
        with click.progressbar(length=users, label="follows ") as bar:
            following = scale.seed_follows(db, made, rng, bar.update)
        with click.progressbar(length=tweets, label="tweets  ") as bar:
            scale.seed_tweets(db, made, tweets, rng, bar.update)
        if messages:
            first_id = store.next_id(messages)
            with click.progressbar(length=messages, label="messages") as bar:
                store.add_many(scale.message_items(made, following, messages, first_id, rng),
                               bar.update)
    db.close()
    click.echo(f"Added {users} users ({min(logins, users)} can log in with password"
               f" '{password}'), {sum(map(len, following.values()))} follows, {tweets} tweets,"
               f" {messages} direct messages.")
