"""Alembic environment: letzdesk always passes an open connection in ``config.attributes``."""

from alembic import context
from sqlalchemy import create_engine

from letzdesk.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Developer use: `alembic -x url=sqlite:///path revision --autogenerate`.
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///:memory:")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
