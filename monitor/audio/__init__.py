"""Audio sources: microphone, files, ffmpeg streams and the synthetic demo."""
