"""The synthetic demo scene, so the whole pipeline can be seen with no microphone or data.

Takes a sample rate and a seed; gives 30 s of clearly synthetic audio: quiet room
noise, a smoke alarm sounding the ISO 8201 "temporal-three" (T3) pattern from 6 s
to 18 s, and a run of sharp broadband clicks at 22 s. It is not meant to fool
the model — it shows the pipeline moving.
"""

from __future__ import annotations

import numpy as np

DURATION = 30.0
ALARM_START, ALARM_END = 6.0, 18.0
ALARM_HZ = 3100.0  # typical piezo smoke-alarm pitch
CLICKS_AT = 22.0


def t3_envelope(t: np.ndarray) -> np.ndarray:
    """1 where a T3 alarm sounds: three 0.5-s beeps 0.5 s apart, then 1.5 s off (4-s cycle)."""
    phase = np.mod(t, 4.0)
    return ((phase < 2.5) & (np.mod(phase, 1.0) < 0.5)).astype(np.float32)


def demo_scene(sample_rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(DURATION * sample_rate)
    t = np.arange(n) / sample_rate
    # Room tone: brown-ish noise around -55 dBFS.
    room = np.cumsum(rng.standard_normal(n)).astype(np.float32)
    room -= np.convolve(room, np.ones(2048) / 2048, mode="same")
    room *= 10 ** (-55 / 20) / (np.sqrt(np.mean(room**2)) + 1e-12)
    alarm_t = t - ALARM_START
    alarm = 0.3 * np.sin(2 * np.pi * ALARM_HZ * t) * t3_envelope(alarm_t) * ((t >= ALARM_START) & (t < ALARM_END))
    clicks = np.zeros(n, dtype=np.float32)
    for k in range(8):
        start = int((CLICKS_AT + 0.15 * k) * sample_rate)
        burst = rng.standard_normal(int(0.02 * sample_rate)) * np.exp(-np.arange(int(0.02 * sample_rate)) / 60)
        clicks[start : start + len(burst)] += 0.5 * burst
    return (room + alarm + clicks).astype(np.float32)
