"""Media: frames by timestamp, audio decode/encode/resample, shot detection, motion."""
