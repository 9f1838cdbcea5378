"""The shape shared by carriers that say what a webhook is by the URL they call (answer,
status, AMD: each set in the dial or the number's settings) and take their answer as a
document (Twilio's TwiML, SignalWire's cXML, Plivo's XML): `read` follows the URL,
`respond` renders the decision, `health` is the rendered hang-up."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, assert_never

from voicecall_rt.carrier.base import (
    CallAnswered,
    CarrierEvent,
    Decision,
    HangUp,
    InboundCall,
    MachineVerdict,
    Reply,
    StatusChanged,
    WebhookKind,
    WebhookRequest,
)


class DocumentWebhooks(ABC):
    __slots__ = ()

    document_type: ClassVar[str]  # the rendered document's content type

    @abstractmethod
    def answer_event(self, request: WebhookRequest) -> CallAnswered | InboundCall: ...

    @abstractmethod
    def status_event(self, request: WebhookRequest) -> StatusChanged: ...

    @abstractmethod
    def machine_event(self, request: WebhookRequest) -> MachineVerdict: ...

    @abstractmethod
    def render(self, decision: Decision) -> str:
        """The answer document carrying `decision`."""

    def read(self, kind: WebhookKind, request: WebhookRequest) -> CarrierEvent:
        match kind:
            case WebhookKind.ANSWER:
                return self.answer_event(request)
            case WebhookKind.STATUS:
                return self.status_event(request)
            case WebhookKind.AMD:
                return self.machine_event(request)
        assert_never(kind)

    async def respond(self, event: CallAnswered | InboundCall, decision: Decision) -> Reply:
        return Reply(self.render(decision), self.document_type)

    def health(self) -> Reply:
        return Reply(self.render(HangUp()), self.document_type)
