#!/usr/bin/env python3
"""Speech-to-text peer for `ainima bench stt`: faster-whisper (CTranslate2,
int8, 2 CPU threads, greedy) on the same model files and the same 16 kHz mono
audio. Usage: stt_peer.py MODEL_DIR RUNS WAV... ; prints one JSON object.

Install: pip install faster-whisper
"""
import json
import statistics
import sys
import time
import wave


def main():
    model_dir, runs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    import numpy as np
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    load = time.perf_counter() - t0
    out = {"load_seconds": load, "files": {}}
    for f in files:
        with wave.open(f, "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
        times, text = [], ""
        for _ in range(runs):
            t0 = time.perf_counter()
            segments, _info = model.transcribe(x, beam_size=1, language="en", without_timestamps=True)
            text = " ".join(s.text.strip() for s in segments)
            times.append(time.perf_counter() - t0)
        out["files"][f] = {"seconds": statistics.median(times), "text": text}
    # VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's peak across exec.
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    out["peak_rss_mb"] = hwm / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
