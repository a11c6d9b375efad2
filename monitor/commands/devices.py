"""``sound-monitor devices``: the audio inputs PortAudio can see."""

from __future__ import annotations

import argparse

from monitor.audio.mic import list_input_devices


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("devices", help="list audio input devices", description="List audio input devices.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    devices = list_input_devices()
    if not devices:
        print("no audio input devices found (use --source FILE or --source demo)")
        return 1
    for d in devices:
        print(f"{d.index:3d}  {d.name}  [{d.host_api}]  {d.channels} ch  {d.default_rate} Hz")
    return 0
