"""Feature parameters: the contract between the model file and the feature extractor.

Takes values (usually from a model's metadata); gives a frozen, validated
:class:`FeatureParams` with the derived window sizes. Two front ends are described
by the same fields:

- :data:`LIBROSA_DB` (the defaults): ``librosa.feature.melspectrogram`` (power 2,
  periodic Hann, centred frames with zero padding, Slaney mel filters) followed by
  ``librosa.power_to_db(ref=1.0, amin=1e-10, top_db=80)``;
- :data:`KALDI_LOG_32K`: the front end the AudioSet-pretrained MobileNetV3 was trained
  on (pre-emphasis 0.97, 800-sample symmetric Hann in a 1024 FFT, hop 320, reflect
  padding, 128 Kaldi/HTK mel bands 0-15 kHz without normalisation, ``(log(mel + 1e-5)
  + 4.5) / 5``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

# Each field that names a choice, with the choices this runtime implements.
CHOICES: dict[str, tuple[str, ...]] = {
    "window": ("hann_periodic", "hann_symmetric"),
    "pad_mode": ("constant", "reflect"),
    "mel_scale": ("slaney", "kaldi"),
    "mel_norm": ("slaney", "none"),
    "compression": ("db", "log"),
}
MIN_SAMPLE_RATE = 4000


@dataclass(frozen=True)
class FeatureParams:
    """How audio becomes the model's input matrix (``n_mels`` x ``n_frames``).

    Steps, in order: pre-emphasis ``y[n] = x[n] - preemphasis * x[n-1]`` (0 = off);
    STFT with a ``win_length`` ``window`` zero-padded to ``n_fft`` in the centre, hop
    ``hop_length``, frames centred on multiples of the hop with ``pad_mode`` padding at the
    ends of a clip or stream; ``|X| ** power``; ``n_mels`` triangular filters between
    ``fmin`` and ``fmax`` on the ``mel_scale`` (``kaldi``: ``1127 ln(1 + f/700)``,
    triangles in the mel domain on the ``n_fft/2`` bins below Nyquist, Nyquist weight 0;
    ``slaney``: librosa's filters), ``mel_norm`` area normalisation; then
    ``compression``: ``db`` = ``10 log10(max(mel, amin))`` floored at the window's maximum
    minus ``top_db``, or ``log`` = ``(ln(mel + log_eps) + log_offset) * log_scale``.
    """

    sample_rate: int = 22050
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    window_seconds: float = 5.0
    top_db: float | None = 80.0
    win_length: int | None = None  # None: n_fft
    window: str = "hann_periodic"
    preemphasis: float = 0.0
    center: bool = True
    pad_mode: str = "constant"
    power: float = 2.0
    mel_scale: str = "slaney"
    mel_norm: str = "slaney"
    compression: str = "db"
    amin: float = 1e-10
    log_eps: float = 1e-5
    log_offset: float = 0.0
    log_scale: float = 1.0

    def __post_init__(self) -> None:
        problems = [f"{f.name} {getattr(self, f.name)!r} is not a finite number"
                    for f in fields(self)
                    if isinstance(getattr(self, f.name), float) and not math.isfinite(getattr(self, f.name))]
        if problems:  # every range check below would be meaningless on NaN
            raise ValueError("; ".join(problems))
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} {getattr(self, name)!r} is not implemented (this runtime knows {', '.join(allowed)})")
        if not MIN_SAMPLE_RATE <= self.sample_rate <= 384000:
            problems.append(f"sample_rate {self.sample_rate} must be in {MIN_SAMPLE_RATE}..384000 Hz")
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            problems.append(f"n_fft {self.n_fft} must be a power of two >= 16")
        if not 0 < self.hop_length <= self.n_fft:
            problems.append(f"hop_length {self.hop_length} must be in 1..n_fft")
        if self.win_length is not None and not 1 <= self.win_length <= self.n_fft:
            problems.append(f"win_length {self.win_length} must be in 1..n_fft")
        if not 1 <= self.n_mels <= self.n_fft // 2 + 1:
            problems.append(f"n_mels {self.n_mels} must be in 1..n_fft/2+1")
        if not 0.5 <= self.window_seconds <= 60:
            problems.append(f"window_seconds {self.window_seconds} must be in 0.5..60")
        nyquist = self.sample_rate / 2
        if not 0 <= self.fmin < (self.fmax or nyquist) <= nyquist:
            problems.append(f"need 0 <= fmin < fmax <= {nyquist:g} (got fmin={self.fmin}, fmax={self.fmax})")
        if self.top_db is not None and self.top_db <= 0:
            problems.append(f"top_db {self.top_db} must be positive or None")
        if not 0 <= self.preemphasis < 1:
            problems.append(f"preemphasis {self.preemphasis} must be in [0, 1)")
        if self.power not in (1.0, 2.0):
            problems.append(f"power {self.power} is not implemented (this runtime knows 1 and 2)")
        if not self.center:
            problems.append("center false is not implemented (frames are centred on multiples of the hop)")
        if self.amin <= 0 or self.log_eps <= 0 or self.log_scale <= 0:
            problems.append("amin, log_eps and log_scale must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def window_samples(self) -> int:
        """Samples in one analysis window."""
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """STFT frames in one window (centred frames, as librosa counts them)."""
        return 1 + self.window_samples // self.hop_length

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's per-window input shape: (channels, mels, frames)."""
        return (1, self.n_mels, self.n_frames)

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate


LIBROSA_DB = FeatureParams()
KALDI_LOG_32K = replace(
    LIBROSA_DB, sample_rate=32000, n_fft=1024, win_length=800, hop_length=320, window="hann_symmetric",
    preemphasis=0.97, pad_mode="reflect", mel_scale="kaldi", mel_norm="none", fmin=0.0, fmax=15000.0,
    top_db=None, compression="log", log_eps=1e-5, log_offset=4.5, log_scale=0.2,
)
