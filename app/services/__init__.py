"""The headless data layer: every rule and state transition, as plain functions over a
session.  No request, no template, no Flask-AppBuilder import here."""
