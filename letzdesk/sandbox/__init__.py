"""A local Letzshop for demos, tests and benchmarks: realistic shipments behind the real schema.

Nothing here talks to the real Letzshop. The sandbox reads the app's schema file as data and
imports nothing else from the app, so it can also run on its own from the command line.
"""

from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.server import SandboxServer, create_app, run
from letzdesk.sandbox.state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "create_app", "generate_shipments", "run"]
