"""The public ledger: a hash chain of every state change the public should be able to audit."""

from ovoz.ledger.services import record

__all__ = ["record"]
