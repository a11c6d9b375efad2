"""Feature parameters: the contract between the model file and the feature extractor.

Takes values (usually from a model's metadata); gives a frozen, validated
:class:`FeatureParams` with the derived window sizes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureParams:
    """How audio becomes the model's input matrix (``n_mels`` x ``n_frames``).

    Mirrors ``librosa.feature.melspectrogram`` (power 2, periodic Hann window,
    centred frames with zero padding, Slaney mel filters) followed by
    ``librosa.power_to_db(ref=1.0, amin=1e-10, top_db=top_db)``.
    """

    sample_rate: int = 22050
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    window_seconds: float = 5.0
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate < 4000:
            problems.append(f"sample_rate {self.sample_rate} is below 4000 Hz")
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            problems.append(f"n_fft {self.n_fft} must be a power of two >= 16")
        if not 0 < self.hop_length <= self.n_fft:
            problems.append(f"hop_length {self.hop_length} must be in 1..n_fft")
        if not 1 <= self.n_mels <= self.n_fft // 2 + 1:
            problems.append(f"n_mels {self.n_mels} must be in 1..n_fft/2+1")
        if not 0.5 <= self.window_seconds <= 60:
            problems.append(f"window_seconds {self.window_seconds} must be in 0.5..60")
        nyquist = self.sample_rate / 2
        if not 0 <= self.fmin < (self.fmax or nyquist) <= nyquist:
            problems.append(f"need 0 <= fmin < fmax <= {nyquist:g} (got fmin={self.fmin}, fmax={self.fmax})")
        if self.top_db is not None and self.top_db <= 0:
            problems.append(f"top_db {self.top_db} must be positive or None")
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
