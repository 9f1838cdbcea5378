"""The model side: OpenAI Realtime (GA) over one WebSocket per call."""
