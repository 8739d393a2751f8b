"""Command-line tools: ``flask --app run setup``, ``seed-demo``, ``create-staff``."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def register_cli(app: Flask) -> None:
    @app.cli.command("setup")
    @with_appcontext
    def setup():
        """Create the database schema (migrations), permissions and roles."""
        from flask_migrate import upgrade

        upgrade()
        sync_permissions()
        click.echo("Database migrated; roles and permissions in place.")

    @app.cli.command("seed-demo")
    @click.option("--citizens", default=300, show_default=True)
    @with_appcontext
    def seed_demo(citizens):
        """Load the demo data (idempotent) and print the demo logins."""
        from .demo import seed

        sync_permissions()
        for line in seed(citizens=citizens):
            click.echo(line)

    @app.cli.command("create-staff")
    @click.argument("username")
    @click.argument("role")
    @click.option("--venue", default=None, help="venue code for venue staff")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--email", default=None)
    @with_appcontext
    def create_staff(username, role, venue, password, email):
        """Create a back-office account with a role (and venue)."""
        from .services.staff import ensure_staff

        sync_permissions()
        ensure_staff(current_app.appbuilder.sm, username, role, venue, password,
                     email or f"{username}@example.tw")
        click.echo(f"{username}: {role} {venue or ''}")

    from .payments_cli import register_payments_cli

    register_payments_cli(app)
    from .audit_cli import register_audit_cli

    register_audit_cli(app)
    for extra in current_app_cli_extensions:
        extra(app)


#: Other modules append functions ``(app) -> None`` that register their commands.
current_app_cli_extensions: list = []


def sync_permissions() -> None:
    from .views.admin.roles import sync_roles

    sm = current_app.appbuilder.sm
    sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    current_app.appbuilder.add_permissions(update_perms=True)
    sync_roles(sm)
