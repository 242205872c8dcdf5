"""The audio engine: audio files, sources and the player. It knows nothing of Discord."""
