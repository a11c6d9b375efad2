"""Log-mel spectrogram, computed incrementally on a stream or in one go on a clip.

Takes float32 mono samples at ``FeatureParams.sample_rate``; gives compressed mel
frames and assembled ``n_mels`` x ``n_frames`` window matrices, for whichever front
end the parameters declare (:mod:`monitor.features.params`). Training calls
:func:`logmel` and the live pipeline uses :class:`StreamingLogMel`; both go through
the same :class:`PreEmphasis` and :class:`MelFrames` code so there is no train/serve skew.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from monitor.features.compression import compress, finish_window
from monitor.features.melbank import filterbank_for
from monitor.features.params import FeatureParams


def analysis_window(params: FeatureParams) -> np.ndarray:
    """The ``win_length`` Hann window zero-padded in the centre to ``n_fft`` (as torch.stft and librosa pad it)."""
    win = params.win_length or params.n_fft
    n = np.arange(win)
    span = win if params.window == "hann_periodic" else max(1, win - 1)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / span)
    out = np.zeros(params.n_fft, dtype=np.float32)
    left = (params.n_fft - win) // 2
    out[left : left + win] = hann
    return out


class PreEmphasis:
    """``y[n] = x[n] - coef * x[n-1]`` across blocks: the last sample carries over (0 before the first)."""

    def __init__(self, coef: float) -> None:
        self.coef = np.float32(coef)
        self._last = np.float32(0.0)

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32, copy=False)
        if not self.coef or len(x) == 0:
            return x
        y = x.copy()
        y[1:] -= self.coef * x[:-1]
        y[0] -= self.coef * self._last
        self._last = x[-1]
        return y


class MelFrames:
    """Turns a contiguous run of (pre-emphasised) samples into compressed mel frames, one per hop."""

    def __init__(self, params: FeatureParams) -> None:
        self.params = params
        self._window = analysis_window(params)
        # Stored transposed and contiguous: the matrix product is ~25 % faster than on a .T view.
        self._basis_t = np.ascontiguousarray(
            filterbank_for(params.sample_rate, params.n_fft, params.n_mels, params.fmin, params.fmax,
                           params.mel_scale, params.mel_norm).T
        )

    def compute(self, samples: np.ndarray) -> np.ndarray:
        """Compressed mel frames for every full ``n_fft`` frame of ``samples`` at hop spacing.

        Returns an array of shape (n_frames, n_mels); frame ``i`` covers
        ``samples[i*hop : i*hop + n_fft]``. No per-window step (see ``finish_window``).
        """
        p = self.params
        if len(samples) < p.n_fft:
            return np.empty((0, p.n_mels), dtype=np.float32)
        frames = sliding_window_view(samples, p.n_fft)[:: p.hop_length]
        spectrum = np.fft.rfft(frames * self._window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        if p.power == 1.0:
            power = np.sqrt(power)
        mel = power.astype(np.float32, copy=False) @ self._basis_t
        return compress(mel, p).astype(np.float32, copy=False)


def pad_start(samples: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The clip or stream start with its centring padding in front (zeros or a reflection)."""
    return np.pad(samples, (params.n_fft // 2, 0), mode=params.pad_mode)


def pad_end(samples: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The tail padding that gives the last samples their centred frames (zeros or a reflection)."""
    half = params.n_fft // 2
    if len(samples) == 0:
        return np.zeros(half, np.float32)
    return np.pad(samples, (0, half), mode=params.pad_mode)[len(samples) :]


def logmel(samples: np.ndarray, params: FeatureParams, frames: MelFrames | None = None) -> np.ndarray:
    """Feature matrix (n_mels, 1 + len//hop) of a whole clip, centred frames.

    For the default front end this equals ``power_to_db(melspectrogram(y, center=True,
    pad_mode='constant'), ref=1.0, top_db=params.top_db)``. Pass ``frames`` to reuse its
    filterbank.
    """
    frames = frames or MelFrames(params)
    y = PreEmphasis(params.preemphasis).apply(samples.astype(np.float32))
    padded = np.concatenate([pad_start(y, params), pad_end(y, params)])
    out = frames.compute(padded)[: 1 + len(samples) // params.hop_length]
    return finish_window(out, params).T.copy()


class StreamingLogMel:
    """Incremental features over an unbounded stream.

    Each :meth:`feed` computes only the STFT frames that the new samples complete
    and caches them; :meth:`window` assembles a window's matrix from the cache.
    Frame ``f`` is centred on stream sample ``f * hop_length``; the stream's start is
    padded (zeros, or a reflection once its first ``n_fft/2 + 1`` samples are in),
    and :meth:`flush` pads its end, exactly as a centred STFT pads a clip.
    """

    def __init__(self, params: FeatureParams, history_frames: int | None = None) -> None:
        self.params = params
        self._mel = MelFrames(params)
        self._pre = PreEmphasis(params.preemphasis)
        self._capacity = history_frames or 2 * params.n_frames
        self._cache = np.zeros((self._capacity, params.n_mels), dtype=np.float32)
        self.frames_done = 0  # frames computed so far; frame ids are 0..frames_done-1
        # Pre-emphasised samples from (frames_done*hop - n_fft/2) on; None until the
        # start padding can be made (a reflection needs the first n_fft/2 + 1 samples).
        self._pending: np.ndarray | None = None
        self._head = np.empty(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> int:
        """Add mono samples; returns how many new frames were computed."""
        y = self._pre.apply(samples)
        if self._pending is None:
            self._head = np.concatenate([self._head, y])
            if self.params.pad_mode == "reflect" and len(self._head) <= self.params.n_fft // 2:
                return 0
            self._pending, self._head = pad_start(self._head, self.params), np.empty(0, np.float32)
            return self._advance()
        self._pending = np.concatenate([self._pending, y])
        return self._advance()

    def flush(self) -> int:
        """End of stream: pad the tail so the last samples get their frames."""
        if self._pending is None:  # a stream shorter than the start padding
            self._pending, self._head = pad_start(self._head, self.params), np.empty(0, np.float32)
        self._pending = np.concatenate([self._pending, pad_end(self._pending, self.params)])
        return self._advance()

    def _advance(self) -> int:
        assert self._pending is not None
        new = self._mel.compute(self._pending)
        if len(new) == 0:
            return 0
        # Keep only the samples the next frame still needs.
        self._pending = self._pending[len(new) * self.params.hop_length :].copy()
        self._store(new[-self._capacity :], self.frames_done + max(0, len(new) - self._capacity))
        self.frames_done += len(new)
        return len(new)

    def _store(self, frames: np.ndarray, first_id: int) -> None:
        slots = np.arange(first_id, first_id + len(frames)) % self._capacity
        self._cache[slots] = frames

    @property
    def oldest_frame(self) -> int:
        """The oldest frame id still cached."""
        return max(0, self.frames_done - self._capacity)

    def window(self, first_frame: int) -> np.ndarray:
        """The (n_mels, n_frames) feature matrix for the window starting at ``first_frame``."""
        n = self.params.n_frames
        if first_frame < self.oldest_frame or first_frame + n > self.frames_done:
            raise IndexError(
                f"frames {first_frame}..{first_frame + n - 1} not cached "
                f"(have {self.oldest_frame}..{self.frames_done - 1})"
            )
        slots = np.arange(first_frame, first_frame + n) % self._capacity
        return finish_window(self._cache[slots], self.params).T.copy()
