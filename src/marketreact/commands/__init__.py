"""CLI commands that live in their own modules.

Each module registers its commands on :data:`marketreact.cli.app` when imported;
``marketreact.cli`` imports them at the end.
"""
