"""Training and evaluation windows built from cached features.

Takes cached clip features (compressed as the model's front end declares, without
any per-window step) and synthetic room tones; gives (n_mels, n_frames) model-input
windows with the runtime's per-window step applied. Clips are trimmed to their
sounding part first. Training windows are augmented: random crop or random position
(optionally with the loudest frame anywhere in the window, so events that have just
begun are learnt), a warp (played faster or slower, pitched up or down: another
bottle, another pane), gain, a camera-like band-limited variant, mixing with a
background clip at a random event-to-background ratio and with room tone (all in the
mel-power domain, where independent sounds add), a short room reverberation, a random
smooth EQ and SpecAugment masks. Evaluation windows are deterministic.
"""

from __future__ import annotations

import numpy as np

from scipy.signal import lfilter

from monitor.features.compression import expand, power_to_features
from monitor.features.params import FeatureParams
from monitor.train.cache import ClipFeatures
from monitor.train.config import AugmentConfig

# Shared by training and evaluation so both see the same room tones and silence clips.
ROOM_TONES = 300
ROOM_TONE_SEED = 12345
N_SILENCE_EVAL = 40


def reverberate(power: np.ndarray, frame_seconds: float, rt60: float, wet: float) -> np.ndarray:
    """A diffuse reverberant tail in the mel-power domain: each band's power through an
    exponential decay of ``rt60`` (60 dB), added at ``wet`` times the direct power."""
    decay = 10 ** (-6 * frame_seconds / rt60)
    tail = lfilter([1 - decay], [1, -decay], power, axis=1)
    return (power + wet * tail).astype(np.float32)


def fit(power: np.ndarray, n_frames: int, offset: int) -> np.ndarray:
    """Place a (mels, T) power matrix into an ``n_frames`` window: crop at ``offset`` if
    longer, else put it at frame ``offset`` with zeros around."""
    t = power.shape[1]
    if t >= n_frames:
        return power[:, offset : offset + n_frames]
    return place(power, n_frames, offset)


def place(power: np.ndarray, n_frames: int, start: int) -> np.ndarray:
    """The window in which the clip's first frame falls at frame ``start`` (negative: the
    clip began before the window); what falls outside the window is cut, the rest is zeros."""
    t = power.shape[1]
    out = np.zeros((power.shape[0], n_frames), dtype=np.float32)
    lo, hi = max(0, start), min(n_frames, start + t)
    if hi > lo:
        out[:, lo:hi] = power[:, lo - start : hi - start]
    return out


def peak_anywhere(power: np.ndarray, n_frames: int, margin: int, rng: np.random.Generator) -> np.ndarray:
    """A window with the clip's loudest frame at a uniformly random frame, at least
    ``margin`` frames before the window's end; the clip may run off either edge."""
    peak = int(np.argmax(power.sum(axis=0)))
    at = int(rng.integers(0, max(1, n_frames - margin)))
    return place(power, n_frames, at - peak)


def loop_to(power: np.ndarray, n_frames: int, offset: int) -> np.ndarray:
    """A background window: looped if the clip is short, cropped at ``offset`` otherwise."""
    t = power.shape[1]
    if t < n_frames:
        power = np.tile(power, (1, -(-n_frames // t) + 1))
    return power[:, offset % max(1, power.shape[1] - n_frames + 1) :][:, :n_frames]


def trim(power: np.ndarray, range_db: float = 50.0) -> np.ndarray:
    """The frames from the first to the last within ``range_db`` of the loudest frame.

    Many clips are an event followed (or preceded) by digital silence; trimming lets
    training place the event anywhere in the window, as a stream does, instead of
    always where the clip happened to have it.
    """
    frame = power.sum(axis=0)
    active = np.flatnonzero(frame >= frame.max() * 10 ** (-range_db / 10))
    if len(active) == 0:
        return power
    return power[:, active[0] : active[-1] + 1]


def stretch(power: np.ndarray, rate: float) -> np.ndarray:
    """The sound played ``rate`` times as fast: frames resampled by linear interpolation."""
    t = power.shape[1]
    n = max(1, int(round(t / rate)))
    at = np.linspace(0, t - 1, n)
    lo = np.floor(at).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    frac = (at - lo).astype(np.float32)
    return power[:, lo] * (1 - frac) + power[:, hi] * frac


def shift_bands(power: np.ndarray, bands: int) -> np.ndarray:
    """The spectrum moved ``bands`` mel bands up (negative: down); the vacated edge repeats
    the nearest band. On a mel scale this is close to a pitch shift at the higher bands."""
    if bands == 0:
        return power
    out = np.empty_like(power)
    if bands > 0:
        out[bands:], out[:bands] = power[:-bands], power[:1]
    else:
        out[:bands], out[bands:] = power[-bands:], power[-1:]
    return out


def active_energy(power: np.ndarray) -> float:
    """Mean power of the frames within 20 dB of the loudest (the event, not its padding)."""
    frame = power.sum(axis=0)
    active = frame >= frame.max() * 0.01
    return float(frame[active].mean()) if active.any() else 0.0


class WindowMaker:
    def __init__(
        self,
        params: FeatureParams,
        room_tones: list[np.ndarray],
        backgrounds: list[ClipFeatures],
        config: AugmentConfig = AugmentConfig(),
    ) -> None:
        self.params = params
        self.n_frames = params.n_frames
        self.room_tones = [self.power(r) for r in room_tones]
        self.backgrounds = backgrounds
        self.config = config
        # A fixed quiet floor for evaluation windows, as a real microphone has: the room
        # tone at the first quartile of loudness (levels run from -90 to -50 dBFS).
        by_level = sorted(self.room_tones, key=lambda r: float(r.mean()))
        self._eval_floor = by_level[len(by_level) // 4]
        self.last_background: ClipFeatures | None = None  # what the latest train_window was mixed with

    def power(self, features: np.ndarray) -> np.ndarray:
        return expand(features, self.params)

    def features(self, power: np.ndarray) -> np.ndarray:
        return power_to_features(power, self.params)

    def train_window(self, feats: ClipFeatures | None, rng: np.random.Generator, silence: bool = False) -> np.ndarray:
        """One augmented training window; ``silence`` gives room tone only.

        :attr:`last_background` tells which background clip (if any) was mixed in, so a
        multi-label target can name it too.
        """
        c = self.config
        self.last_background = None
        if silence or feats is None:
            power = loop_to(self.room_tones[rng.integers(len(self.room_tones))], self.n_frames, 0)
            power = power * 10 ** (rng.uniform(-10, 10) / 10)
            return self._mask(self.features(power), rng)
        band = rng.random() < c.p_band
        source = feats.band if band else feats.full
        power = trim(self.power(source))
        if c.p_warp and rng.random() < c.p_warp:  # no draw at 0: runs stay reproducible
            power = stretch(power, rng.uniform(*c.stretch))
            power = shift_bands(power, int(rng.integers(-c.max_band_shift, c.max_band_shift + 1)))
        if c.p_peak_anywhere and rng.random() < c.p_peak_anywhere:  # no draw at 0: runs stay reproducible
            power = peak_anywhere(power, self.n_frames, c.peak_margin, rng)
        else:
            offset = int(rng.integers(0, abs(power.shape[1] - self.n_frames) + 1))
            power = fit(power, self.n_frames, offset)
        power = power * 10 ** (rng.uniform(*c.gain_db) / 10)
        if self.backgrounds and rng.random() < c.p_background:
            bg_feats = self.backgrounds[rng.integers(len(self.backgrounds))]
            if bg_feats.clip.path != feats.clip.path:
                bg = loop_to(self.power(bg_feats.band if band else bg_feats.full), self.n_frames, int(rng.integers(0, 1 << 16)))
                event, background = active_energy(power), float(bg.sum(axis=0).mean())
                if event > 0 and background > 0:
                    ebr = rng.uniform(*c.ebr_db)
                    power = power + bg * (event / background) / 10 ** (ebr / 10)
                    self.last_background = bg_feats
        if rng.random() < c.p_reverb:
            power = reverberate(power, self.params.frame_seconds, rng.uniform(*c.rt60_s), rng.uniform(*c.reverb_wet))
        if rng.random() < c.p_room_tone:
            power = power + self.room_tones[rng.integers(len(self.room_tones))][:, : self.n_frames]
        if rng.random() < c.p_eq:
            power = power * self._eq(power.shape[0], rng)
        return self._mask(self.features(power), rng)

    def _eq(self, n_mels: int, rng: np.random.Generator) -> np.ndarray:
        """A smooth random gain curve over the mel bands (microphone / room colouring)."""
        x = np.linspace(0, np.pi, n_mels)
        curve = sum(rng.uniform(-1, 1) * np.cos(k * x) for k in (1, 2, 3)) / 3
        return (10 ** (self.config.eq_db * curve / 10)).astype(np.float32)[:, None]

    def _mask(self, db: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """SpecAugment: a few frequency and time stripes set to the window's mean."""
        c = self.config
        fill = float(db.mean())
        for _ in range(c.freq_masks):
            w = int(rng.integers(0, c.freq_mask_max + 1))
            f0 = int(rng.integers(0, db.shape[0] - w + 1))
            db[f0 : f0 + w, :] = fill
        for _ in range(c.time_masks):
            w = int(rng.integers(0, c.time_mask_max + 1))
            t0 = int(rng.integers(0, db.shape[1] - w + 1))
            db[:, t0 : t0 + w] = fill
        return db

    def eval_windows(self, feats: ClipFeatures, variant: str = "full") -> np.ndarray:
        """Deterministic windows covering a clip (centred if short), over a quiet room-tone floor."""
        power = trim(self.power(feats.band if variant == "band" else feats.full))
        t, n = power.shape[1], self.n_frames
        if t <= n:
            starts = [(n - t) // 2]
            windows = [fit(power, n, starts[0])]
        else:
            starts = list(range(0, t - n + 1, n))
            if starts[-1] != t - n:
                starts.append(t - n)
            windows = [power[:, s : s + n] for s in starts]
        return np.stack([self.features(w + self._eval_floor[:, :n]) for w in windows])

    def silence_windows(self, count: int, seed: int) -> np.ndarray:
        """Deterministic evaluation windows for the synthetic silence class."""
        rng = np.random.default_rng(seed)
        windows = []
        for _ in range(count):
            power = loop_to(self.room_tones[rng.integers(len(self.room_tones))], self.n_frames, 0)
            windows.append(self.features(power * 10 ** (rng.uniform(-10, 10) / 10)))
        return np.stack(windows)
