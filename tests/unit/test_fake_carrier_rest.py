"""The fake Twilio's REST API and call lifecycle, against a tiny app playing our server
(tests/helpers/fake_twilio_harness.py): auth, validation and lookups answered as Twilio
answers them, the official SDK talking to the fake, ring outcomes, time limits, cancel
versus complete, and shutdown; all over real loopback sockets.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from tests.helpers.fake_twilio_harness import (
    ACCOUNT,
    CALLEE,
    CALLS,
    OUR_NUMBER,
    PUBLIC,
    TIMEOUT,
    TOKEN,
    OurServer,
    create_form,
    dial,
    hang_up_via_rest,
    make_fake,
    rest,
)
from voicecall_rt.simulator.scenario import CallPlan

# ---- REST --------------------------------------------------------------------------------


async def test_rest_auth_validation_and_lookups(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        status, body = await rest(http, fake, "POST", CALLS, create_form(), (ACCOUNT, "nope"))
        assert status == 401
        assert body["code"] == 20003 and body["message"] == "Authenticate"
        assert body["status"] == 401 and body["more_info"].startswith("https://")

        cases = [
            ([("To", "5550002222")], 21211),
            ([("From", "+15559999999")], 21212),
            ([("Url", "")], 21205),
            ([("Timeout", "soon")], 20001),
            ([("StatusCallbackEvent", "dancing")], 20001),
        ]
        for override, code in cases:
            names = {name for name, _ in override}
            form = [(k, v) for k, v in create_form() if k not in names] + override
            status, body = await rest(http, fake, "POST", CALLS, form)
            assert (status, body["code"]) == (400, code), (override, body)
        assert fake.created == [] and fake.calls == {}

        unknown = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/CA{'0' * 32}.json"
        status, body = await rest(http, fake, "POST", unknown, [("Status", "completed")])
        assert (status, body["code"]) == (404, 20404)
        assert fake.updates[-1].status == 404

        status, body = await rest(http, fake, "GET", f"/2010-04-01/Accounts/{ACCOUNT}.json")
        assert status == 200 and body["sid"] == ACCOUNT and body["status"] == "active"
        path = (
            f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?PhoneNumber=%2B15550001111"
        )
        status, body = await rest(http, fake, "GET", path)
        assert [n["phone_number"] for n in body["incoming_phone_numbers"]] == [OUR_NUMBER]
        path = path.replace("0001111", "0009999")
        status, body = await rest(http, fake, "GET", path)
        assert status == 200 and body["incoming_phone_numbers"] == []


async def test_twilio_sdk_talks_to_the_fake(server: OurServer) -> None:
    """The official SDK (what our server uses) parses every answer the fake gives."""
    http_client = AsyncTwilioHttpClient(timeout=5)
    async with make_fake(server, CallPlan(ring_ms=10_000)) as fake:
        client = Client(ACCOUNT, TOKEN, http_client=http_client)
        client.api.base_url = fake.api_base_url
        try:
            account = await client.api.v2010.accounts(ACCOUNT).fetch_async()
            assert account.status == "active"
            numbers = await client.incoming_phone_numbers.list_async(
                phone_number=OUR_NUMBER, limit=1
            )
            assert [n.phone_number for n in numbers] == [OUR_NUMBER]
            with pytest.raises(TwilioRestException) as refused:
                await client.calls.create_async(
                    to="12345", from_=OUR_NUMBER, url=f"{PUBLIC}/voice/answer"
                )
            assert refused.value.code == 21211
            created = await client.calls.create_async(
                to=CALLEE,
                from_=OUR_NUMBER,
                url=f"{PUBLIC}/voice/answer",
                status_callback=f"{PUBLIC}/voice/status",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                timeout=30,
                time_limit=600,
            )
            assert created.sid.startswith("CA") and len(created.sid) == 34
            assert created.status == "queued" and created.direction == "outbound-api"
            call = await fake.wait_call(TIMEOUT)
            assert fake.created[0]["StatusCallbackEvent"] == [
                "initiated",
                "ringing",
                "answered",
                "completed",
            ]
            await call.wait_status("ringing", TIMEOUT)
            updated = await client.calls(call.sid).update_async(status="canceled")
            assert updated.status == "canceled"
            async with asyncio.timeout(TIMEOUT):
                await call.ended.wait()
        finally:
            await http_client.close()
    assert [h.params["CallStatus"] for h in server.hooks_of("status")] == [
        "initiated",
        "ringing",
        "canceled",
    ]
    assert server.hooks_of("answer") == []


async def test_time_limit_over_the_account_limit_is_refused(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        form = [*create_form(), ("TimeLimit", "14401")]
        status, body = await rest(http, fake, "POST", CALLS, form)
        assert status == 400
        assert body["status"] == 400 and body["code"] == 20001
        assert "14400" in body["message"] and body["more_info"].startswith("https://")
        assert fake.created == [] and fake.calls == {}

        call = await dial(http, fake, TimeLimit="14400")
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
        status, body = await rest(http, fake, "POST", path, [("TimeLimit", "20000")])
        assert (status, body["code"]) == (400, 20001)
        assert call.config.time_limit_s == 14400
        await hang_up_via_rest(http, fake, call)

    async with make_fake(server, max_time_limit_s=86_400) as fake:  # a raised account limit
        call = await dial(http, fake, TimeLimit="86400")
        assert call.config.time_limit_s == 86_400
        await hang_up_via_rest(http, fake, call)


async def test_canceled_leaves_an_answered_call_and_completed_ends_any_call(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plans = {CALLEE: CallPlan(ring_ms=20), "+15550003333": CallPlan(ring_ms=60_000)}
    async with make_fake(server, plans.__getitem__) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
        status, body = await rest(http, fake, "POST", path, [("Status", "canceled")])
        assert status == 200 and body["status"] == "in-progress"
        media = len(server.messages("media"))
        await server.wait_for(lambda: len(server.messages("media")) > media + 5)
        assert call.status == "in-progress" and not call.ended.is_set() and call.streaming
        await hang_up_via_rest(http, fake, call)  # Status=completed
        assert call.statuses[-1] == "completed"

        form = [(k, v) for k, v in create_form() if k != "To"] + [("To", "+15550003333")]
        status, _ = await rest(http, fake, "POST", CALLS, form)
        assert status == 201
        ringing = await fake.wait_call(TIMEOUT)
        await ringing.wait_status("ringing", TIMEOUT)
        await hang_up_via_rest(http, fake, ringing)
    assert ringing.statuses == ["initiated", "ringing", "canceled"]
    final = [h for h in server.hooks_of("status") if h.params["CallSid"] == ringing.sid]
    assert final[-1].params["CallStatus"] == "canceled"


# ---- call outcomes ---------------------------------------------------------------------


@pytest.mark.slow  # waits out the ring timeout
async def test_no_answer_busy_and_ring_timeout(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plans = {
        "+15550000001": CallPlan(answer="no-answer", ring_ms=50),
        "+15550000002": CallPlan(answer="busy", ring_ms=30),
        "+15550000003": CallPlan(answer="answer", ring_ms=60_000),  # rings past Timeout=1
    }
    async with make_fake(server, plans.__getitem__) as fake:
        calls = []
        for number in plans:
            form = [(k, v) for k, v in create_form() if k != "To"] + [("To", number)]
            if number.endswith("3"):
                form.append(("Timeout", "1"))
            status, _ = await rest(http, fake, "POST", CALLS, form)
            assert status == 201
            calls.append(await fake.wait_call(TIMEOUT))
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*(c.ended.wait() for c in calls))

    assert [c.status for c in calls] == ["no-answer", "busy", "no-answer"]
    for c in calls:
        assert c.statuses == ["initiated", "ringing", c.status]
        completed = [
            h
            for h in server.hooks_of("status")
            if h.params["CallSid"] == c.sid and h.params["CallStatus"] == c.status
        ]
        assert len(completed) == 1 and completed[0].params["CallDuration"] == "0"
    assert server.hooks_of("answer") == []


@pytest.mark.slow  # waits out the call's time limit
async def test_time_limit_ends_the_call(server: OurServer, http: aiohttp.ClientSession) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake, TimeLimit="1")
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()
    assert call.statuses[-1] == "completed"
    assert server.messages("stop")
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"


# ---- shutdown ----------------------------------------------------------------------------


async def test_close_hangs_up_everything_and_leaves_no_tasks(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    fake = make_fake(server)
    await fake.start()
    call = await dial(http, fake)
    await server.wait_started()
    await fake.close()
    await fake.close()  # idempotent
    assert call.ended.is_set() and call.statuses[-1] == "completed"
    await server.wait_for(lambda: server.ws_closed)
    assert server.messages("stop")
    assert server.hooks_of("status")[-1].params["CallStatus"] == "completed"
    assert not fake._tasks
