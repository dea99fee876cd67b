"""The one error every notification channel raises."""

from __future__ import annotations


class ChannelError(Exception):
    """A channel could not deliver a message.

    `permanent` is True when trying the same message again cannot help (the resident blocked
    the bot, the mailbox does not exist): the outbox should give up on it. Otherwise the
    failure may pass (network, server trouble, rate limits, a configuration an operator can
    fix) and the message is worth another try later.

    The message never holds a token, a password, an address, a chat id or the text being
    sent, so it can be logged and shown to an operator as it is."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent

    def __repr__(self) -> str:
        return f"ChannelError({str(self)!r}, permanent={self.permanent})"
