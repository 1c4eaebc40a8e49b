#!/usr/bin/env python3
"""VAD peers for `ainima bench audio`: py-webrtcvad (WebRTC's GMM VAD, as
Ainima uses it, called from Python) and Silero VAD v5 (ONNX, as Pipecat and
LiveKit Agents use it), each timed over the same 16 kHz mono WAV on one
thread. Prints one JSON object: {"webrtcvad": {...}, "silero": {...}}; a
peer that is not installed reports {"error": "..."}.

Install: pip install webrtcvad-wheels onnxruntime numpy && pip install --no-deps silero-vad
"""
import json
import os
import statistics
import sys
import time
import wave


def load(path):
    import numpy as np
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = w.readframes(w.getnframes())
    return pcm, np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0


def bench_webrtcvad(pcm, runs):
    import webrtcvad
    times, voiced = [], 0
    for _ in range(runs):
        vad = webrtcvad.Vad(2)
        t0 = time.perf_counter()
        voiced = 0
        for i in range(0, len(pcm) - 320 + 1, 320):  # 10 ms frames of 16-bit samples
            voiced += vad.is_speech(pcm[i:i + 320], 16000)
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "voiced_frames": voiced}


def bench_silero(x, runs):
    import importlib.util
    import numpy as np
    import onnxruntime
    # The model file only: importing the package itself would pull in torch.
    spec = importlib.util.find_spec("silero_vad")
    if spec is None:
        raise ModuleNotFoundError("silero-vad is not installed")
    model = os.path.join(list(spec.submodule_search_locations)[0], "data", "silero_vad.onnx")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    sess = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"], sess_options=opts)
    sr = np.array(16000, dtype=np.int64)
    times, speech = [], 0
    for _ in range(runs):
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, 64), dtype=np.float32)
        t0 = time.perf_counter()
        speech = 0
        for i in range(0, len(x) - 512 + 1, 512):  # 32 ms chunks, with 64 samples of context
            chunk = np.concatenate([context, x[None, i:i + 512]], axis=1)
            out, state = sess.run(None, {"input": chunk, "state": state, "sr": sr})
            context = chunk[:, -64:]
            speech += float(out[0][0]) > 0.5
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "speech_chunks": speech}


def main():
    path, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    result = {}
    try:
        pcm, x = load(path)
    except Exception as e:  # numpy missing, or a bad file
        print(json.dumps({"webrtcvad": {"error": str(e)}, "silero": {"error": str(e)}}))
        return
    for name, fn, arg in (("webrtcvad", bench_webrtcvad, pcm), ("silero", bench_silero, x)):
        try:
            result[name] = fn(arg, runs)
        except Exception as e:
            result[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
