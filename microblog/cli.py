"""`flask init`: create both stores and load the seed data, idempotently."""
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
