"""``flask payments …``: import collection files by hand, or the inbox folder."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

payments_cli = AppGroup("payments", help="Payments: reconciliation files (自動對帳).")


@payments_cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def import_command(files):
    """Import bank or convenience-store collection FILES (UTF-8 or Big5)."""
    from .extensions import db
    from .services import reconciliation
    from .services.audit import Actor

    actor = Actor(type="system", name="cli")
    failed = False
    for path in files:
        with open(path, "rb") as handle:
            raw = handle.read()
        batch = reconciliation.import_file(db.session, raw, path, actor)
        if batch.status == "rejected":
            failed = True
            click.echo(f"{path}: rejected, nothing applied", err=True)
            for line in reconciliation.rejection_lines(batch):
                click.echo(f"  {line}", err=True)
            continue
        click.echo(f"{path}: {batch.status} (batch {batch.id}): {batch.lines} records, "
                   f"{batch.applied} applied, {batch.duplicates} duplicates, "
                   f"{batch.exceptions} exceptions, {batch.reversals} reversals")
    if failed:
        raise SystemExit(1)


@payments_cli.command("import-inbox")
def import_inbox_command():
    """Import every file waiting in RECONCILIATION_INBOX."""
    from .extensions import db
    from .services import reconciliation

    click.echo(f"{reconciliation.import_inbox(db.session)} file(s) imported")


@payments_cli.command("seed-demo")
def seed_demo_command():
    """Demo money on top of the demo registrations (idempotent)."""
    from .extensions import db

    for line in seed_payments_demo(db.session):
        click.echo(line)


def seed_payments_demo(session, password: str | None = None) -> list[str]:
    """Pay part of the demo's admitted registrations through an imported bank file and
    a convenience-store file, leave two exceptions for the clerks (a wrong amount, an
    unknown account), and put refunds in each state.  Run after the registration demo;
    running it again changes nothing."""
    from sqlalchemy import select

    from .models import Payment, PaymentSlip, Registration, Venue
    from .services import clock, reconciliation, refunds
    from .services.audit import Actor
    from .services.collection_files import BankCredit, StoreCredit, format_bank_file, format_store_file

    if session.execute(select(Payment.id).where(Payment.external_serial.like("DEMO%"))).first():
        return ["Demo payments already loaded."]
    if password is None:
        from .demo import DEMO_PASSWORD as password
    slips = session.execute(
        select(PaymentSlip).join(Registration, PaymentSlip.registration_id == Registration.id)
        .where(Registration.state == "admitted", PaymentSlip.status == "open")
        .order_by(PaymentSlip.id)).scalars().all()
    if len(slips) < 8:
        return ["Too few admitted registrations for demo payments; run seed-demo first."]
    now = clock.to_taipei(clock.now())
    day, time = now.date(), now.time().replace(microsecond=0)
    by_bank, by_store = slips[: len(slips) * 6 // 10], slips[len(slips) * 6 // 10: len(slips) * 7 // 10]
    odd = slips[len(slips) * 7 // 10]
    bank = [BankCredit(0, day, time, day, "atm", s.virtual_account, "+", s.amount,
                       f"DEMOB{s.id:07d}", "812") for s in by_bank]
    bank.append(BankCredit(0, day, time, day, "internet", odd.virtual_account, "+",
                           max(odd.amount - 100, 1), f"DEMOX{odd.id:07d}", "700"))
    venue = session.execute(select(Venue).order_by(Venue.id)).scalars().first()
    bank.append(BankCredit(0, day, time, day, "counter", venue.collection_code + "999999999",
                           "+", 1500, "DEMOU0000001", "004"))
    store = [StoreCredit(0, "711", day, time, s.barcode1, s.barcode2, s.barcode3, s.amount,
                         "S0012345", f"DEMOS{s.id:07d}") for s in by_store]
    actor = Actor(type="system", name="demo")
    lines = []
    for name, text in (("demo-bank.txt", format_bank_file(bank)),
                       ("demo-store.txt", format_store_file(store) if store else None)):
        if text:
            batch = reconciliation.import_file(session, text.encode("utf-8"), name, actor)
            lines.append(f"{name}: {batch.applied} applied, {batch.exceptions} exceptions")
    paid = [session.get(PaymentSlip, s.id).registration for s in by_bank[:4]]
    account = refunds.BankAccount("004", "0012", "001234567890", "示範帳戶")
    clerk = Actor(type="system", name="demo-clerk")
    made = []
    for reg in paid:
        try:
            made.append(refunds.request_refund(session, reg, reg.citizen, password=password,
                                               reason="示範退費", account=account,
                                               quoted_amount=None, actor=actor))
        except Exception:  # e.g. a course past its refund dates: skip it
            session.rollback()
    session.commit()
    if len(made) >= 4:
        refunds.approve(session, made[1], clerk)
        refunds.reject(session, made[2], clerk, "示範：不符退費規定")
        refunds.approve(session, made[3], clerk)
        batch = refunds.create_remittance_batch(session, made[3].venue_id, [made[3]], clerk)
        refunds.mark_remitted(session, batch, clerk)
    session.commit()
    lines.append(f"Refunds: {len(made)} requested (one approved, one rejected, one remitted).")
    return lines


def register_payments_cli(app: Flask) -> None:
    app.cli.add_command(payments_cli)
