"""A fake SignalWire (Compatibility API and cXML): the fake Twilio (`simulator.twilio`)
playing SignalWire's dialect (`dialect`), made for a world by `fake`."""
