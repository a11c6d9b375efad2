"""Training settings: what ``sound-monitor train`` can change, with the defaults of the shipped model.

Plain dataclasses with no numerical imports, so the command line can show the
defaults without loading PyTorch or audio decoding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    # Augmented training windows are made once (batches_per_epoch x batch_size of them, label-balanced)
    # and passed through the frozen lower trunk once; every epoch then revisits them in a new order.
    epochs: int = 4
    batches_per_epoch: int = 640
    batch_size: int = 32
    # With --init: trunk modules features.0-6 (the stride-2 to stride-8 half, 80 % of the trunk's
    # cost) keep AudioSet's weights; features.7-16 adapt to our rooms and labels.
    frozen_blocks: int = 7
    learning_rate: float = 2e-3  # the head's; the trunk's is trunk_lr_scale times this
    trunk_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    mixup_p: float = 0.3
    mixup_alpha: float = 0.4
    label_smoothing: float = 0.02
    # Label sampling weight = (training clips) ** balance: 0 draws every label equally often,
    # 0.5 gives the broad background labels (dozens of source labels) more turns than rare events.
    balance: float = 0.3
    # One fine-tuned upper trunk and head per entry, all on the same frozen lower trunk; their
    # probabilities are averaged. Each entry is the head's segment length in trunk time steps
    # (0.32 s each): 0 scores the window's mean, 3 about a second at a time (a short impact is
    # not averaged over the whole 5-s window). One window-mean member by default: (0, 3) matched
    # its event recall on the validation streams with fewer false alarms overall, but raised a
    # false glass alarm where the single member raised none (see models/MODEL_CARD.md).
    members: tuple[int, ...] = (0,)
    distill: float = 1.0  # weight of the loss towards the frozen AudioSet teacher (0: off)
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True)
class AugmentConfig:
    p_band: float = 0.4  # use the band-limited variant (8 / 11.025 / 16 kHz recordings: 4-8 kHz of band)
    # Share of windows with the loudest frame anywhere in the window, the event running off
    # either edge, so the model sees events that have only just begun: a break is caught
    # in the first window that contains it, not one or two hops later.
    p_peak_anywhere: float = 0.5
    peak_margin: int = 10  # frames kept after the peak at the latest (0.1 s at a 10-ms hop)
    # Share of event clips played faster or slower and moved up or down the mel bands (another
    # glass, another door, another voice than the few recorded); 0 = off.
    p_warp: float = 0.0
    stretch: tuple[float, float] = (0.8, 1.25)  # playback rate
    max_band_shift: int = 4  # of 128 Kaldi mel bands to 15 kHz: about 12 % in pitch above 2 kHz, more below
    gain_db: tuple[float, float] = (-20.0, 10.0)
    # Real rooms are noisy: most events are learnt inside household, outdoor or music background.
    p_background: float = 0.8
    ebr_db: tuple[float, float] = (-9.0, 12.0)  # event-to-background ratio; streams are judged down to -6 dB
    p_room_tone: float = 0.9  # add a room-tone floor (no digital silence)
    p_eq: float = 0.5
    eq_db: float = 6.0
    p_reverb: float = 0.3
    rt60_s: tuple[float, float] = (0.2, 0.8)  # a furnished room to a bare hallway
    reverb_wet: tuple[float, float] = (0.1, 0.5)  # reverberant share of the direct sound's power
    freq_masks: int = 2
    freq_mask_max: int = 16  # of 128 bands
    time_masks: int = 2
    time_mask_max: int = 30  # frames (0.3 s at a 10-ms hop: shorter than a glass break)
