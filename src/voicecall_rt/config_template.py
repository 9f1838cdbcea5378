"""The commented configuration template `voicecall-rt init` writes."""

TEMPLATE = """\
# voicecall-rt configuration (TOML). Keys not set here keep their defaults.
# Secrets may instead come from the environment: OPENAI_API_KEY and the carrier's own
# (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TELNYX_API_KEY, PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN,
# SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN, SIGNALWIRE_SIGNING_KEY).

# Which carrier places and answers the calls: "twilio", "telnyx", "plivo" or "signalwire".
# Fill in its section below; the others are not used.
carrier = "twilio"
# The carrier number calls are placed from, in E.164 form.
fromNumber = "+15555550100"
# The public https origin your tunnel serves (no path); the carrier calls <publicUrl>/voice/*.
publicUrl = "https://voice.example.com"
# Keep the server on loopback and expose only /voice/* through the tunnel.
debug = false
# dataDir = "~/.openclaw/voice-calls-realtime"

[twilio]
accountSid = "AC00000000000000000000000000000000"
authToken = "replace-me"
# Only if your account signs webhooks with a SharedKey (Twilio's Webhook Settings):
# webhookSharedKeys = ["replace-me"]

# [telnyx]
# apiKey = "KEY-replace-me"
# connectionId = "1234567890"    # the Voice API (Call Control) application's id
# publicKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # Public Key (verifies webhooks)

# [plivo]
# authId = "MA0000000000000000AA"
# authToken = "replace-me"

# [signalwire]
# projectId = "00000000-0000-0000-0000-000000000000"
# apiToken = "PTreplace-me"
# signingKey = "PSKreplace-me"   # API → Signing Key (webhooks are signed with it)
# spaceUrl = "example.signalwire.com"

[openai]
apiKey = "sk-replace-me"
# A reasoning model; "gpt-realtime-2.1-mini" costs about a third as much for audio.
model = "gpt-realtime-2.1"
# minimal, low, medium, high, xhigh: more reasoning, longer silences before each answer
reasoningEffort = "low"
# alloy ash ballad coral echo sage shimmer verse marin cedar
voice = "coral"
# Transcribes what the other side says, for the transcript.
transcriptionModel = "gpt-transcribe"
# transcriptionLanguage = "en"   # ISO-639-1, when you know the language of your calls

[vad]
type = "semantic_vad"   # or "server_vad"
eagerness = "medium"    # low, medium, high, auto

[server]
port = 3335
bind = "127.0.0.1"
# drainTimeoutSeconds = 300   # on SIGTERM: live calls may finish this long, then say goodbye

[calls]
maxDurationSeconds = 600
timeoutSeconds = 30
enableAmd = true
maxConcurrent = 5
silenceNudgeSeconds = 5     # outbound: say "Hello?" once if the line stays quiet this long
silenceHangupSeconds = 30   # ...and hang up (no-response) if it stays quiet this long
dtmfToneMs = 100            # keypad tone length
dtmfGapMs = 80              # silence between keypad tones
mediaTimeoutSeconds = 30    # a stream that sends no audio this long is treated as gone
# blockedNumbers = ["+14155550000"]   # never called (beside numbers that asked not to be)

[calls.voicemail]
policy = "leave-message"    # or "hangup"
# message = "Hi, this is an AI assistant calling for Alex about a reservation. Please call back."

# What a business sets around its calls (docs/business.md).
# [calls.transfer]        # the model may hand the call to a person, only to these numbers
# targets = [{ label = "front desk", number = "+14155550123" }]
# passCallerId = true     # show the other party's number where the carrier allows it

# [calls.retry]           # follow-up attempts of an outbound call that did not get through
# attempts = 3            # in all, the first included (1: no follow-up)
# backoffSeconds = 300    # wait before the second attempt; each later wait is longer by
# backoffMultiplier = 2   #   this factor
# on = ["busy", "no-answer", "failed"]   # and/or "voicemail"

# [calls.hours]           # when outbound calls may ring, in the callee's local time
# start = "09:00"
# end = "20:00"
# days = ["mon", "tue", "wed", "thu", "fri"]
# fallbackTimeZone = "UTC"   # for a number whose time zone cannot be told from it

# [limits]                # spend guards, in USD of the cost estimate
# dailySpendUsd = 20      # refuse new calls once today's calls have cost this much
# perCallSpendUsd = 2     # a call that reaches this says goodbye and hangs up
# timeZone = "UTC"        # where "today" begins

[inbound]
enabled = false
policy = "disabled"     # disabled, open, allowlist
allowFrom = []          # ["+14155551234"]
greeting = "Hey! What's up?"
# systemPrompt = "You answer calls for ..."

[notify]
# When a call ends, POST its result here: https, or http only to this machine.
# url = "http://127.0.0.1:18789/hooks/agent"   # an OpenClaw gateway's agent hook
# token = "replace-me"  # the gateway's hooks.token, or the signing secret for "generic"
format = "openclaw"     # or "generic": our own JSON, signed with HMAC-SHA256
# For "openclaw" only, sent with each result as the gateway's /hooks/agent fields:
# agentId = "main"      # the agent that reads the result (else the gateway's default)
# channel = "telegram"  # announce the agent's reply there: a concrete channel, never
# to = "+14155550199"   #   "last", and both channel and to, or neither (main session)
# accountId = "work"    # a channel account, only together with channel and to

[pricing]
# Call costs are estimates from OpenAI's and the carriers' list prices: check them and
# override. USD per started minute of an answered call, one rate per carrier (a carrier
# left out keeps its built-in rate, README "Cost"), or a single number for any carrier.
# carrierPerMinute = { twilio = 0.0184, telnyx = 0.0105, plivo = 0.0155, signalwire = 0.011 }
# [pricing.models."gpt-realtime-2.1"]   # USD per 1M tokens; keys left out keep the list price
# textIn = 4.0
# cachedTextIn = 0.4
# textOut = 24.0
# audioIn = 32.0
# cachedAudioIn = 0.4
# audioOut = 64.0
# [pricing.models.gpt-transcribe]       # a transcription model: USD per minute of audio
# perMinute = 0.0045                    # (or audioIn, textIn, textOut per 1M tokens)
"""
