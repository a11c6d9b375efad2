"""Learnt sounds: `sound-monitor learn` teaches a new label from a few recordings, every command
and the daemon use it, and every bad input is one line that says what to do.

The model is the tiny test model with an embedding output (each mel band's mean and peak),
so learning and detection run for real on generated audio: a two-tone door chime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from signals import noise, tone, write
from tiny_model import make_tiny_model, tiny_metadata
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner
from monitor.sounds.bank import read_background_bank
from monitor.sounds.learn import learn
from monitor.sounds.model import SoundModel
from monitor.sounds.store import LearntSound, load_sounds, read_sound, save_sound

RATE = 22050
ROOM_DBFS = -55.0


def embedding_model(path: Path, model_id: str = "00c0ffee00c0ffee") -> Path:
    meta = tiny_metadata()
    return make_tiny_model(path, ModelMetadata(meta.labels, meta.features, meta.activation, meta.thresholds,
                                               {"name": "tiny-embedding", "model_id": model_id}), embedding=True)


def household_data(root: Path) -> Path:
    """A small training-data folder: hums (household), beeps (smoke alarm), noise bursts (footsteps)
    and tones anywhere from 100 Hz to 8 kHz (speech), 3 s each, in folds 1-5."""
    rng = np.random.default_rng(11)
    rows = ["path,label,fold,group"]
    makers = {
        "vacuum_cleaner": lambda: tone(rng.uniform(100, 400), 3.0, RATE, 0.1) + noise(3.0, RATE, -40, int(rng.integers(1e6))),
        "smoke_alarm_or_beeping_alarm": lambda: tone(3100, 3.0, RATE, 0.2) * (np.arange(3 * RATE) % RATE < RATE // 2),
        "footsteps": lambda: noise(3.0, RATE, -25, int(rng.integers(1e6))) * (np.arange(3 * RATE) % (RATE // 2) < 2000),
        "speech": lambda: tone(rng.uniform(100, 8000), 3.0, RATE, 0.2) + noise(3.0, RATE, -50, 1),
    }
    for label, make in makers.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(10):
            write(root / label / f"{i}.wav", make().astype(np.float32), RATE)
            rows.append(f"{label}/{i}.wav,{label},{1 + i % 5},{label}{i}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def bare_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedding model as an older export: no background bank."""
    return embedding_model(tmp_path_factory.mktemp("bare") / "tiny-embedding.onnx")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedding model with its background bank, stored as the lead stores it after training."""
    folder = tmp_path_factory.mktemp("model")
    path = embedding_model(folder / "tiny-embedding.onnx")
    result = run_cli("learn", "--build-background-bank", str(household_data(folder / "data")), "--model", str(path))
    assert result.returncode == 0 and "stored 1200 background embeddings" in result.stdout, result.stderr
    return path


def test_the_background_bank_lives_in_the_model_file_and_keeps_its_identity(model, bare_model):
    runner = ModelRunner(model)
    bank = read_background_bank(runner)
    assert bank is not None and bank.shape == (1200, 256) and np.all(np.isfinite(bank))
    assert runner.metadata.model_id == ModelRunner(bare_model).metadata.model_id == "00c0ffee00c0ffee"
    assert len(runner.props["background_embeddings"]) < 1_000_000  # float16 rows as base64: 819 KB
    assert read_background_bank(ModelRunner(bare_model)) is None  # older models load, with no bank


def chime(seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Ding-dong: 880 Hz then 660 Hz, each 0.4 s and decaying (a little different every press)."""
    rng = np.random.default_rng(seed)
    jitter = 1 + rng.uniform(-0.01, 0.01)
    t = np.arange(int(0.4 * RATE)) / RATE
    decay = np.exp(-t * 6)
    ding = np.sin(2 * np.pi * 880 * jitter * t) * decay
    dong = np.sin(2 * np.pi * 660 * jitter * t) * decay
    return (level * rng.uniform(0.7, 1.0) * np.concatenate([ding, dong])).astype(np.float32)


def recording(sound: np.ndarray, seconds: float = 3.0, at: float = 1.0, seed: int = 0) -> np.ndarray:
    audio = noise(seconds, RATE, ROOM_DBFS, seed=seed + 100)
    i = int(at * RATE)
    audio[i : i + len(sound)] += sound[: len(audio) - i]
    return audio


def chime_examples(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [write(folder / f"chime{i}.wav", recording(chime(i), seed=i), RATE) for i in range(count)]


def room(path: Path, seconds: float = 30.0) -> Path:
    return write(path, noise(seconds, RATE, ROOM_DBFS, seed=7), RATE)


def learn_cli(model: Path, sounds: Path, name: str, *files: Path, extra: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return run_cli("learn", name, *map(str, files), "--model", str(model), "--sounds-dir", str(sounds), *extra)


RULES = """\
version: 1
min_level_dbfs: -90
rules:
  - {name: front_door, sound: doorbell, severity: warning, cooldown: 5s, clear_after: 2s}
"""


def scene(path: Path) -> tuple[Path, list[float]]:
    """40 s of room noise: the chime at 8 s and 26 s; a 300-Hz hum, a noise burst and a 4-kHz beep between."""
    audio = noise(40.0, RATE, ROOM_DBFS, seed=3)
    chimes = [8.0, 26.0]
    for k, at in enumerate(chimes):
        s = chime(50 + k)
        audio[int(at * RATE) : int(at * RATE) + len(s)] += s
    audio[int(14 * RATE) : int(16 * RATE)] += tone(300, 2.0, RATE, 0.2)
    audio[int(20 * RATE) : int(20.5 * RATE)] += noise(0.5, RATE, -20.0, seed=4)
    audio[int(33 * RATE) : int(34 * RATE)] += tone(4000, 1.0, RATE, 0.2)
    return write(path, audio, RATE), chimes


def test_a_chime_learnt_from_four_recordings_raises_alerts_in_a_stream_and_nothing_else_does(tmp_path, model):
    sounds = tmp_path / "sounds"
    result = learn_cli(model, sounds, "doorbell", *chime_examples(tmp_path / "ex"),
                       extra=("--background", str(room(tmp_path / "room.wav"))))
    assert result.returncode == 0, result.stderr
    assert "4 examples used, 0 skipped" in result.stdout
    assert "leave-one-out recall 1.00" in result.stdout
    assert "the model bank" in result.stdout
    stored = json.loads((sounds / "doorbell.sound.json").read_text())
    assert stored["model_id"] == "00c0ffee00c0ffee" and len(stored["weights"]) == 256

    (tmp_path / "rules.yaml").write_text(RULES)
    path, chimes = scene(tmp_path / "scene.wav")
    detect = run_cli("detect", str(path), "--rules", str(tmp_path / "rules.yaml"), "--model", str(model),
                     "--sounds-dir", str(sounds), "--json")
    assert detect.returncode == 0, detect.stderr
    alerts = [json.loads(line) for line in detect.stdout.splitlines()]
    assert [a["rule"] for a in alerts] == ["front_door", "front_door"]
    for alert, at in zip(alerts, chimes):
        assert alert["label"] == "doorbell" and at - 5.1 <= alert["onset"] <= at + 1.0  # a window that reaches it


def test_the_learnt_label_is_in_classify_output_and_sounds_test_marks_the_windows(tmp_path, model):
    sounds = tmp_path / "sounds"
    assert learn_cli(model, sounds, "doorbell", *chime_examples(tmp_path / "ex")).returncode == 0
    path, _ = scene(tmp_path / "scene.wav")
    classify = run_cli("classify", str(path), "--model", str(model), "--sounds-dir", str(sounds), "--json")
    windows = [json.loads(line) for line in classify.stdout.splitlines()]
    assert all(set(w["scores"]) == {"low", "mid", "high", "doorbell"} for w in windows)
    test = run_cli("sounds", "test", "doorbell", str(path), "--model", str(model), "--sounds-dir", str(sounds),
                   "--json")
    rows = [json.loads(line) for line in test.stdout.splitlines()]
    detected = [r["start"] for r in rows if r["detected"]]
    assert detected and all(2.9 <= s <= 8.5 or 20.9 <= s <= 26.5 for s in detected)


def test_check_rules_knows_a_learnt_sound_until_it_is_removed(tmp_path, model):
    sounds = tmp_path / "sounds"
    assert learn_cli(model, sounds, "doorbell", *chime_examples(tmp_path / "ex")).returncode == 0
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = ("--model", str(model), "--sounds-dir", str(sounds))
    ok = run_cli("check-rules", str(rules), *args)
    assert ok.returncode == 0 and "doorbell>=" in ok.stdout
    listed = run_cli("sounds", "list", *args)
    assert listed.stdout.startswith("doorbell  threshold")
    removed = run_cli("sounds", "remove", "doorbell", *args)
    assert removed.returncode == 0 and not (sounds / "doorbell.sound.json").exists()
    gone = run_cli("check-rules", str(rules), *args)
    assert gone.returncode == 1 and "unknown sound 'doorbell'" in gone.stderr


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("sound-monitor: error: ") and "Traceback" not in result.stderr
    return lines[-1]


def test_fewer_than_three_examples_is_refused(tmp_path, model):
    error = one_line_error(learn_cli(model, tmp_path / "s", "doorbell", *chime_examples(tmp_path / "ex", 2)))
    assert "2 usable examples, at least 3 are needed" in error


def test_silent_and_clipped_examples_are_skipped_with_the_reason(tmp_path, model):
    good = chime_examples(tmp_path / "ex", 3)
    silent = write(tmp_path / "silent.wav", np.zeros(3 * RATE, np.float32), RATE)
    clipped = write(tmp_path / "clipped.wav", np.clip(recording(chime(9, level=3.0)), -1, 1), RATE)
    result = learn_cli(model, tmp_path / "s", "doorbell", *good, silent, clipped)
    assert result.returncode == 0, result.stderr
    assert "3 examples used, 2 skipped" in result.stdout
    assert "silent.wav: skipped: silent" in result.stderr
    assert "clipped.wav: skipped: clipped (too loud" in result.stderr
    too_few = one_line_error(learn_cli(model, tmp_path / "s2", "doorbell", *good[:2], silent))
    assert "silent.wav: silent" in too_few


def test_an_example_of_a_different_sound_is_left_out(tmp_path, model):
    buzz = write(tmp_path / "buzz.wav", recording(tone(150, 0.8, RATE, 0.3)), RATE)
    result = learn_cli(model, tmp_path / "s", "doorbell", *chime_examples(tmp_path / "ex", 4), buzz)
    assert result.returncode == 0, result.stderr
    assert "4 examples used, 1 skipped" in result.stdout
    assert "buzz.wav: skipped: does not sound like the other examples" in result.stderr


def test_examples_that_are_all_different_sounds_are_refused(tmp_path, model):
    files = [write(tmp_path / f"{f}.wav", recording(tone(f, 0.8, RATE, 0.3)), RATE) for f in (150, 2500, 7000)]
    error = one_line_error(learn_cli(model, tmp_path / "s", "doorbell", *files))
    assert "the examples do not sound alike" in error


def test_no_sound_left_after_trimming(tmp_path, model):
    clicks = []
    for i in range(3):
        audio = noise(3.0, RATE, ROOM_DBFS, seed=i)
        audio[RATE] = 0.5  # one sample: a click, not a sound
        clicks.append(write(tmp_path / f"click{i}.wav", audio, RATE))
    error = one_line_error(learn_cli(model, tmp_path / "s", "doorbell", *clicks))
    assert "no sound left after trimming" in error


@pytest.mark.parametrize("name, problem", [
    ("low", "'low' is already a label of the model: choose another name"),
    ("Door Bell", "'Door Bell' is not a valid sound name"),
])
def test_a_name_that_clashes_or_is_not_a_label_name_is_refused(tmp_path, model, name, problem):
    error = one_line_error(learn_cli(model, tmp_path / "s", name, *chime_examples(tmp_path / "ex", 3)))
    assert problem in error


def test_a_sound_is_not_replaced_without_force(tmp_path, model):
    files = chime_examples(tmp_path / "ex", 3)
    assert learn_cli(model, tmp_path / "s", "doorbell", *files).returncode == 0
    assert "pass --force to replace it" in one_line_error(learn_cli(model, tmp_path / "s", "doorbell", *files))
    assert learn_cli(model, tmp_path / "s", "doorbell", *files, extra=("--force",)).returncode == 0


def test_without_a_bank_learn_says_it_relies_on_background_recordings(tmp_path, bare_model):
    result = learn_cli(bare_model, tmp_path / "s", "doorbell", *chime_examples(tmp_path / "ex", 3))
    assert result.returncode == 0, result.stderr
    assert "carries no background bank: false alarms are estimated on --background only" in result.stderr
    assert "record the room for a minute and pass --background" in result.stderr


def test_a_model_without_embedding_cannot_learn(tmp_path, tiny_model):
    error = one_line_error(learn_cli(tiny_model, tmp_path / "s", "doorbell", *chime_examples(tmp_path / "ex", 3)))
    assert "has no embedding output" in error


def a_sound(model_id: str = "00c0ffee00c0ffee", name: str = "doorbell") -> LearntSound:
    return LearntSound(name, model_id, np.linspace(-1, 1, 256).astype(np.float32), -0.5, 0.7)


def test_a_sound_from_another_model_or_a_corrupt_file_is_a_warning_and_left_out(tmp_path, model):
    sounds = tmp_path / "sounds"
    save_sound(sounds, a_sound(model_id="1111222233334444", name="other_model"))
    (sounds / "broken.sound.json").write_text('{"format": "sound-monitor.sound", "vers')
    save_sound(sounds, a_sound(name="doorbell"))
    path = room(tmp_path / "room.wav", 5.0)
    result = run_cli("classify", str(path), "--model", str(model), "--sounds-dir", str(sounds), "--json")
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("sound-monitor: warning: ") for w in warnings)
    assert "broken.sound.json: corrupt sounds file (not JSON): remove it or learn the sound again" in warnings[0]
    assert "'other_model' was learnt on model 1111222233334444, not on the loaded model 00c0ffee00c0ffee: " \
           "learn it again" in warnings[1]
    assert set(json.loads(result.stdout.splitlines()[0])["scores"]) == {"low", "mid", "high", "doorbell"}
    shown = one_line_error(run_cli("sounds", "show", "other_model", "--model", str(model), "--sounds-dir", str(sounds)))
    assert "learnt on model 1111222233334444" in shown


@pytest.mark.parametrize("edit, why", [
    (lambda d: d.update(weights=[1.0] * 10), "10 weights for a 256-value embedding"),
    (lambda d: d.update(threshold=1.5), "'threshold' a number between 0 and 1"),
    (lambda d: d.update(weights=["x"] * 256), "'weights' must be a list of finite numbers"),
    (lambda d: d.update(name="front"), "does not match|matching the file name"),
    (lambda d: d.update(version=2), "version 2, this program reads version 1"),
])
def test_every_damaged_field_of_a_sounds_file_is_named(tmp_path, edit, why):
    path = save_sound(tmp_path, a_sound())
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(Exception) as error:
        read_sound(path, "00c0ffee00c0ffee", 256)
    assert any(part in str(error.value) for part in why.split("|")), str(error.value)
    assert str(error.value).startswith(f"{path}: ")


def test_a_saved_sound_scores_exactly_as_the_model_wrapper_does(tmp_path, model):
    runner = ModelRunner(model)
    path = save_sound(tmp_path, a_sound())
    sound = load_sounds(tmp_path, "00c0ffee00c0ffee", 256, runner.labels).sounds[0]
    windows = np.random.default_rng(0).normal(-40, 10, (3, *runner.metadata.features.input_shape[1:]))
    scores, embeddings = SoundModel(runner, [sound]).predict_with_embedding(windows.astype(np.float32))
    assert path.name == "doorbell.sound.json"
    np.testing.assert_allclose(scores[:, -1], sound.scores(embeddings), rtol=1e-5)
    np.testing.assert_allclose(scores[:, :3], runner.predict(windows.astype(np.float32)), rtol=1e-6)


def test_learning_in_process_reports_what_it_measured(tmp_path, model):
    runner = ModelRunner(model)
    learnt = learn(runner, "doorbell", chime_examples(tmp_path / "ex", 5), [noise(20.0, RATE, ROOM_DBFS, seed=5)],
                   read_background_bank(runner))
    assert learnt.used == [tmp_path / "ex" / f"chime{i}.wav" for i in range(5)] and not learnt.skipped
    assert learnt.loo_recall == 1.0 and learnt.false_alarms_per_hour == 0.0
    assert 0.5 <= learnt.sound.threshold < 1.0 and learnt.background_hours > 0


def test_the_daemon_loads_the_sounds_folder_and_a_removed_sound_is_gone_at_the_next_reload(tmp_path, bare_model):
    from daemon_support import DaemonProcess, scene as daemon_scene, write_config

    daemon_scene(tmp_path / "scene.wav", seconds=60)
    sounds = tmp_path / "sounds"
    save_sound(sounds, a_sound(name="doorbell"))
    save_sound(sounds, a_sound(name="garage_door"))
    rules = RULES.replace("sound: doorbell", "sound: garage_door")
    config = write_config(tmp_path, bare_model, "{id: room, file: scene.wav, realtime: true}",
                          extra=f"sounds_dir: {sounds}\n", rules=rules)
    daemon = DaemonProcess(config)
    try:
        assert "sounds=doorbell,garage_door" in daemon.wait_for_event("model_loaded")
        daemon.wait_for_event("ready")
        assert run_cli("sounds", "remove", "doorbell", "--sounds-dir", str(sounds)).returncode == 0
        assert "sounds=garage_door" in daemon.wait_for_event("sounds_loaded", timeout=10)
        assert run_cli("sounds", "remove", "garage_door", "--sounds-dir", str(sounds)).returncode == 0
        failed = daemon.wait_for_event("sounds_reload_failed", timeout=10)  # a rule still uses it
        assert "unknown sound 'garage_door'" in failed and "kept the running sounds" in failed
        code, _ = daemon.terminate()
        assert code == 0
    finally:
        daemon.close()


def test_under_a_model_without_embedding_a_learnt_sound_is_left_out_with_a_warning(tmp_path, tiny_model):
    sounds = tmp_path / "sounds"
    save_sound(sounds, a_sound(name="doorbell"))
    result = run_cli("classify", str(room(tmp_path / "room.wav", 5.0)), "--model", str(tiny_model),
                     "--sounds-dir", str(sounds), "--json")
    assert result.returncode == 0, result.stderr
    assert "doorbell.sound.json: the model has no embedding output" in result.stderr
    assert set(json.loads(result.stdout.splitlines()[0])["scores"]) == {"low", "mid", "high"}
