"""ssj: an audit-first, event-sourced ledger for 双随机、一公开 inspections."""

__version__ = "0.1.0"
