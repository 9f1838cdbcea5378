"""Audio helpers: G.711 µ-law, keypad tones, WAV files. None of it runs on the relay path."""
