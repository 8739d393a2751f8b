"""``flask audit verify`` and ``flask audit checkpoint``: the security trail's hash chain.

``verify`` walks the whole chain and exits 1 naming the first bad entry when any entry
was altered, removed or inserted; with ``--anchors FILE`` it also checks that every
anchored entry is still there (the newest entries cut off — tail truncation — is the one
change a chain alone cannot show).  ``checkpoint`` records an ``audit_checkpoint`` entry
and appends its anchor line to a file that should live outside the database's reach
(another host, WORM storage, or mailed to the auditors); run it periodically.
"""
from __future__ import annotations


import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext


def register_audit_cli(app: Flask) -> None:
    group = AppGroup("audit", help="The security trail (資安軌跡記錄): verify and anchor.")

    @group.command("verify")
    @click.option("--anchors", "anchors_path", type=click.Path(dir_okay=False), default=None,
                  help="File of anchor lines '<id> <hash>' written by 'flask audit checkpoint'.")
    @with_appcontext
    def verify(anchors_path):
        """Check every entry's hash and link; exit 1 naming the first bad entry."""
        from .extensions import db
        from .services import audit_review

        anchors = []
        if anchors_path:
            try:
                with open(anchors_path, encoding="utf-8") as fh:
                    anchors = audit_review.parse_anchors(fh)
            except (OSError, ValueError) as exc:
                click.echo(f"cannot read the anchors: {exc}", err=True)
                raise SystemExit(2)
        report = audit_review.verify_report(db.session, anchors)
        db.session.rollback()
        if report.ok:
            click.echo(report.message() + (f"; {len(anchors)} anchors present" if anchors else ""))
            return
        click.echo(report.message(), err=True)
        raise SystemExit(1)

    @group.command("checkpoint")
    @click.option("--anchors", "anchors_path", type=click.Path(dir_okay=False), default=None,
                  help="Append the anchor line here (default: AUDIT_ANCHOR_FILE or "
                       "instance/audit-anchors.txt).")
    @with_appcontext
    def checkpoint(anchors_path):
        """Record the chain head as an audit_checkpoint entry and append its anchor."""
        from .extensions import db
        from .services import audit_review

        line = audit_review.checkpoint(db.session)
        db.session.commit()
        audit_review.append_anchor(anchors_path or audit_review.anchor_file(), line)
        click.echo(line)

    app.cli.add_command(group)
