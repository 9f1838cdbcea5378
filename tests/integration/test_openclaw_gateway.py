"""The plugin loaded by the real OpenClaw: packed by npm, installed into a throwaway OpenClaw
with `openclaw plugins install npm-pack:…`, configured and enabled with the CLI, inspected
at runtime, its CLI command run, and its tools executed by a real gateway (its
`POST /tools/invoke`) against our real server in a simulated world. When the call settles,
the plugin pushes the result into the session and wakes it: the gateway's agent turn then
reaches a fake chat model, which shows what the agent was given.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.fake_chat_model import FakeChatModel, text_of
from tests.helpers.openclaw_calls import BOOKING, BOOKING_NUMBER, OUTCOME, SCRIPT, plan_for
from tests.helpers.openclaw_home import Gateway, OpenClawHome
from tests.helpers.openclaw_plugin import missing, require_plugin, run
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import callee_lines

PLUGIN_ID = "voicecall-rt"
TOOLS = {"make_phone_call", "get_call", "list_calls", "hang_up", "cancel_scheduled_call"}
TOKEN_ENV = "VOICECALL_RT_TEST_TOKEN"


async def invoke(gateway: Gateway, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """One tool run by the gateway, as an operator would (`POST /tools/invoke`)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gateway.url}/tools/invoke",
            headers={"Authorization": f"Bearer {gateway.token}"},
            json={"tool": tool, "args": args},
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        assert body["ok"] is True, body
        result: dict[str, Any] = body["result"]
        return result


@pytest.mark.timeout(400)  # npm pack and install, the CLI several times, a gateway
async def test_installed_configured_inspected_and_run_by_openclaw(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    plugin = await require_plugin()
    npm = shutil.which("npm", path=plugin.env()["PATH"])
    if npm is None:
        missing("npm is needed to pack the plugin as it is published")
    world = await make_world(plan_for, SCRIPT)
    async with FakeChatModel() as model:
        home = OpenClawHome(plugin, tmp_path, **{TOKEN_ENV: world.server.api_token})

        # The package exactly as published (npm pack), installed the way users get it.
        packed = await run(
            plugin, npm, "pack", "--pack-destination", tmp_path, env=home.env, timeout_s=100
        )
        assert packed.code == 0, packed.report()
        tarball = tmp_path / packed.out.strip().splitlines()[-1]  # npm prints its name
        installed = await home.openclaw(
            "plugins", "install", f"npm-pack:{tarball}", "--force", "--accept-capabilities"
        )
        assert installed.code == 0, installed.report()
        assert f"Installed plugin: {PLUGIN_ID}" in installed.out, installed.report()

        # Configured with the CLI: the server's URL, its token as a SecretRef to an
        # environment variable, and a model for the agent (the fake).
        settings = [
            {"path": f"plugins.entries.{PLUGIN_ID}.config.url", "value": world.server.local_url},
            {
                "path": f"plugins.entries.{PLUGIN_ID}.config.token",
                "value": {"source": "env", "provider": "default", "id": TOKEN_ENV},
            },
            {"path": "models.mode", "value": "merge"},
            {
                "path": "models.providers.fake",
                "value": {
                    "baseUrl": model.base_url,
                    "apiKey": "sk-fake",
                    "api": "openai-completions",
                    "models": [{"id": "echo", "name": "Echo"}],
                },
            },
            {"path": "agents.defaults.model.primary", "value": "fake/echo"},
            {"path": "logging.file", "value": str(tmp_path / "openclaw.log")},
        ]
        batch = tmp_path / "settings.json"
        batch.write_bytes(orjson.dumps(settings))
        configured = await home.openclaw("config", "set", "--batch-file", batch)
        assert configured.code == 0, configured.report()
        enabled = await home.openclaw("plugins", "enable", PLUGIN_ID, "--accept-capabilities")
        assert enabled.code == 0, enabled.report()

        # Loaded at runtime: its tools, its CLI command and its service are registered.
        inspected = await home.openclaw("plugins", "inspect", PLUGIN_ID, "--runtime", "--json")
        assert inspected.code == 0, inspected.report()
        report = orjson.loads(inspected.out)["plugin"]
        assert report["status"] == "loaded", report
        assert set(report["toolNames"]) == TOOLS
        assert report["cliCommands"] == [PLUGIN_ID]
        assert report["services"] == ["voicecall-rt-results"]
        assert report["configUiHints"]["token"]["sensitive"] is True

        async with home.gateway() as gateway:
            placed = await invoke(
                gateway, "make_phone_call", {"to": BOOKING_NUMBER, "task": "Book dinner for 3"}
            )
            call_id = placed["details"]["call"]["id"]
            assert placed["details"]["resultPushed"] is True, placed
            assert placed["content"][0]["text"].startswith(f"Placed call {call_id} ")

            # The settled call's report reaches the session that placed it, which is woken:
            # the agent's next turn is given the report.
            headline = f"[voicecall-rt] Call {call_id} to {BOOKING_NUMBER} has ended (completed"
            turn = await model.wait_for(lambda request: headline in text_of(request), 90)
            given = text_of(turn)
            assert f"Outcome (goal achieved): {OUTCOME['summary']}" in given
            assert "untrusted third-party speech" in given
            fence = given[given.index("<<<VOICECALL_RT_CALL_CONTENT") :]
            fence = fence[: fence.index("<<<END_VOICECALL_RT_CALL_CONTENT")]
            for line in callee_lines(BOOKING):
                assert f"callee: {line}" in fence
            # The agent is offered the tools, with their descriptions.
            assert "make_phone_call (voicecall-rt): Place a real phone call." in given

            got = await invoke(gateway, "get_call", {"call_id": call_id})
            assert got["details"]["call"]["status"] == "completed"
            assert got["details"]["call"]["outcome"] == OUTCOME
            refused = await invoke(gateway, "get_call", {"call_id": "call_nothere"})
            assert refused["details"] == {
                "status": "failed",
                "error": "There is no call with id call_nothere.",
            }

        # Its CLI command, run by the openclaw CLI, with the token's SecretRef resolved.
        listed = await home.openclaw(PLUGIN_ID, "calls", "--json")
        assert listed.code == 0, listed.report()
        assert call_id in {call["id"] for call in orjson.loads(listed.out)["calls"]}
        del home.env[TOKEN_ENV]
        unresolved = await home.openclaw(PLUGIN_ID, "calls")
        assert unresolved.code == 1, unresolved.report()
        assert unresolved.err.strip().endswith(
            "The plugin's token setting is a SecretRef that OpenClaw did not resolve; check"
            " that its secret is available (`openclaw secrets audit`) or set the token itself."
        ), unresolved.report()

    dialled = [call.to for call in world.carrier.calls.values()]
    assert dialled == [BOOKING_NUMBER]
