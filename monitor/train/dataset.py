"""Training data: a folder of clips with labels, folds and groups.

Takes a folder holding either ``manifest.csv`` (columns path,label[,fold,group,...];
paths relative to the folder) or ``<label>/*.wav|flac|ogg|mp3`` sub-folders, plus a
:class:`~monitor.train.labelmap.LabelMap`; gives a :class:`Dataset` of usable
:class:`Clip` records and a list of :class:`Skipped` ones with the reason for each.
Decoding problems are found later, when features are computed (see ``cache``).
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import UserError
from monitor.train.labelmap import LabelMap

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
N_FOLDS = 5


@dataclass(frozen=True)
class Clip:
    path: Path
    source_label: str
    label: str  # model label
    fold: int
    group: str


@dataclass(frozen=True)
class Skipped:
    what: str  # path or manifest row
    reason: str


@dataclass
class Dataset:
    root: Path
    clips: list[Clip]
    labels: tuple[str, ...]  # model labels with usable clips, plus the synthetic silence class
    silence: str | None
    skipped: list[Skipped] = field(default_factory=list)

    def folds(self, folds: set[int]) -> list[Clip]:
        return [c for c in self.clips if c.fold in folds]

    def counts(self) -> Counter[str]:
        return Counter(c.label for c in self.clips)


def _hash_fold(text: str) -> int:
    """Stable fold 1..5 for data without folds (a group always lands in one fold)."""
    return 1 + int(hashlib.sha1(text.encode()).hexdigest(), 16) % N_FOLDS


def _manifest_rows(root: Path, skipped: list[Skipped]) -> list[tuple[Path, str, int, str]]:
    manifest = root / "manifest.csv"
    rows: list[tuple[Path, str, int, str]] = []
    with manifest.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise UserError(f"{manifest}: needs a header with at least 'path' and 'label' columns (has {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            where = f"{manifest.name}:{line}"
            path, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
            if not path:
                skipped.append(Skipped(where, "empty path"))
                continue
            if not label:
                skipped.append(Skipped(f"{where} {path}", "empty label"))
                continue
            group = (row.get("group") or "").strip() or path
            fold_text = (row.get("fold") or "").strip()
            if fold_text:
                try:
                    fold = int(fold_text)
                except ValueError:
                    skipped.append(Skipped(f"{where} {path}", f"fold {fold_text!r} is not a number"))
                    continue
            else:
                fold = _hash_fold(group)
            rows.append((root / path, label, fold, group))
    return rows


def _folder_rows(root: Path) -> list[tuple[Path, str, int, str]]:
    rows = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                rel = f"{sub.name}/{path.name}"
                rows.append((path, sub.name, _hash_fold(rel), rel))
    return rows


def load_dataset(root: Path, label_map: LabelMap) -> Dataset:
    """Read the folder's clip list and apply the label map; raises if nothing usable is left."""
    if not root.is_dir():
        raise UserError(f"training data folder {root} does not exist")
    skipped: list[Skipped] = []
    has_manifest = (root / "manifest.csv").is_file()
    rows = _manifest_rows(root, skipped) if has_manifest else _folder_rows(root)
    if not has_manifest and not rows:
        loose = sum(1 for p in root.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        raise UserError(
            f"{root}: {f'{loose} audio files but ' if loose else ''}no clips in <label>/ sub-folders: put each "
            f"label's clips in a folder named after it ({root}/dog_bark/*.wav, ...) or give a manifest.csv "
            "(path,label,fold,group)"
        )
    if not has_manifest:
        # A label folder with no audio in it is worth a line in the report.
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not any(p.suffix.lower() in AUDIO_EXTENSIONS for p in sub.iterdir()):
                skipped.append(Skipped(f"{sub.name}/", "empty label: folder holds no .wav/.flac/.ogg/.mp3 files"))
    clips: list[Clip] = []
    unknown: Counter[str] = Counter()
    for path, source_label, fold, group in rows:
        if source_label in label_map.drop:
            skipped.append(Skipped(str(path), f"source label '{source_label}' is dropped by the label map"))
            continue
        label = label_map.target(source_label)
        if label is None:
            unknown[source_label] += 1
            skipped.append(Skipped(str(path), f"unknown label '{source_label}' (not in the label map)"))
            continue
        if not 1 <= fold <= N_FOLDS:
            skipped.append(Skipped(str(path), f"fold {fold} outside 1..{N_FOLDS}"))
            continue
        if not path.is_file():
            skipped.append(Skipped(str(path), "missing file"))
            continue
        if path.stat().st_size == 0:
            skipped.append(Skipped(str(path), "empty file (0 bytes)"))
            continue
        clips.append(Clip(path=path, source_label=source_label, label=label, fold=fold, group=group))
    present = {c.label for c in clips}
    if label_map.sources is None:
        ordered = tuple(sorted(present - {label_map.silence}))
    else:
        ordered = tuple(label for label in label_map.model_labels if label in present and label != label_map.silence)
        for label in label_map.model_labels:
            if label not in present and label != label_map.silence:
                skipped.append(Skipped(f"label '{label}'", "empty label: no usable clips, left out of the model"))
    labels = ordered + ((label_map.silence,) if label_map.silence else ())
    dataset = Dataset(root=root, clips=clips, labels=labels, silence=label_map.silence, skipped=skipped)
    require_usable(dataset)
    return dataset


def require_usable(dataset: Dataset) -> None:
    """Stop with the skip report when fewer than two labels have clips."""
    real = {c.label for c in dataset.clips}
    if len(real) + (1 if dataset.silence else 0) < 2 or not real:
        raise UserError(
            f"no usable training data in {dataset.root}: {len(dataset.clips)} usable clips in {len(real)} labels "
            f"({len(dataset.skipped)} skipped: {summarize_skipped(dataset.skipped)})"
        )


def summarize_skipped(skipped: list[Skipped]) -> str:
    """One line: how many were skipped for each kind of reason."""
    if not skipped:
        return "none"
    kinds = Counter(s.reason.split(" '")[0].split(":")[0] for s in skipped)
    return ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())


def skip_report(skipped: list[Skipped], limit: int = 20) -> str:
    """Multi-line report naming each skipped item and why (first ``limit``)."""
    if not skipped:
        return "skipped: none"
    lines = [f"skipped {len(skipped)}: {summarize_skipped(skipped)}"]
    lines += [f"  {s.what}: {s.reason}" for s in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more")
    return "\n".join(lines)
