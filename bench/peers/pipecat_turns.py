#!/usr/bin/env python3
"""Turn-taking peer: what Pipecat, with its default turn settings, does with
the same utterances. Each WAV (16 kHz mono 16-bit, one user utterance with
silence around it) goes through a real Pipecat pipeline, built as its voice
bot examples build it, minus the LLM and TTS:

    audio in (20 ms InputAudioRawFrame chunks, as LocalAudioTransport reads them)
      -> WhisperSTTService (faster-whisper, a SegmentedSTTService)
      -> LLMUserAggregator(vad_analyzer=SileroVADAnalyzer())   # default VADParams,
         default UserTurnStrategies (VAD start; smart-turn v3 stop)

run by WorkerRunner. Chunks are fed at real-time pace (a live microphone), so
Pipecat's wall-clock parts (smart-turn's pre-speech window, the STT running
beside the audio) behave as in a call; every audio time reported is counted
in samples fed, not taken from the clock. After a file ends the "microphone"
keeps sending digital silence until the user turn has ended (at most
--tail-cap seconds), since smart-turn's silence fallback needs 3 s.

Usage: pipecat_turns.py --model WHISPER_CT2_DIR [--threads 2] INPUT.json
INPUT.json: {"files": [{"path": "/abs/x.wav", "voice_end": 1.234}, ...]}
The first file is run once, unmeasured, to warm the models (--no-warmup: not).
Prints one JSON object: {"pipecat_version", "vad": the VADParams used,
"turn": what ends a turn by default, "turn_config", "stt", "files": [...]},
each file's entry (times in seconds of the file's audio, or wall-clock ms):
  stopped_at      audio time at which Pipecat's turn logic decided the user
                  had stopped: the Silero VAD stop if smart-turn then said
                  "complete", else that stop plus smart-turn's 3 s of silence
                  (null if the turn never ended)
  stt_ms          wall ms from that decision until the transcript the turn
                  ends with reached the aggregator (WhisperSTTService starts at
                  the VAD stop, so 0 when smart-turn's fallback waited longer);
                  null when Whisper gave no text (Pipecat then ends the turn
                  after user_turn_stop_timeout, 5 s)
  text            what the aggregator wrote to the LLM context for that turn
  user_stopped_at audio time of the UserStoppedSpeakingFrame (the real end of
                  the turn: decision and transcript both in)
  turn_end_ms     wall ms from feeding the sample at voice_end to that frame
  vad, vad_stopped_at, smart_turn {complete, probability, ms}, ended_by,
  turns (ends of turn declared while the file and its silence played),
  segments (each Whisper run: seconds of audio, ms, text or null if dropped)

Install (the versions measured are pinned beside this file):
    pip install -r bench/peers/pipecat-requirements.txt
Everything loads from local files: Silero VAD and smart-turn v3.2 ONNX models
ship inside the pipecat-ai wheel; Whisper comes from --model.
"""
import argparse
import asyncio
import collections
import json
import os
import sys
import time
import wave

RATE = 16000
CHUNK = 320  # 20 ms at 16 kHz: int(rate / 100) * 2 frames, as LocalAudioTransport reads


def fail(msg, code=2):
    print(f"pipecat_turns.py: {msg}", file=sys.stderr)
    sys.exit(code)


def load_wav(path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(
                f"{path}: want 16 kHz mono 16-bit, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} ch, {8 * w.getsampwidth()} bit"
            )
        return w.readframes(w.getnframes())


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="CTranslate2 Whisper folder (model.bin, config.json, ...)")
    p.add_argument("--threads", type=int, default=2, help="faster-whisper cpu_threads (Pipecat passes none: 4)")
    p.add_argument("--tail-cap", type=float, default=10.0,
                   help="seconds of silence fed after a file at most, waiting for the turn to end")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not run the first file once, unmeasured, before measuring")
    p.add_argument("--verbose", action="store_true", help="keep Pipecat's debug log on stderr")
    p.add_argument("input", help="JSON: {\"files\": [{\"path\": ..., \"voice_end\": ...}]}")
    return p.parse_args()


def main():
    args = parse_args()
    if not os.path.isfile(os.path.join(args.model, "model.bin")):
        fail(f"--model {args.model}: no model.bin there (want a CTranslate2 Whisper folder)")
    try:
        with open(args.input, encoding="utf-8") as f:
            files = json.load(f)["files"]
        audio = [load_wav(e["path"]) for e in files]
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"bad input: {e}")
    if not files:
        fail("no files in input")

    # Nothing may be fetched from a model hub: the models are all local.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from importlib.metadata import version

        import numpy  # noqa: F401
        from loguru import logger
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.audio.vad.vad_analyzer import VADState
        from pipecat.frames.frames import (
            EndFrame,
            InputAudioRawFrame,
            LLMContextUserTurnFrame,
            MetricsFrame,
            StartFrame,
            TranscriptionFrame,
            UserStartedSpeakingFrame,
            UserStoppedSpeakingFrame,
            VADUserStartedSpeakingFrame,
            VADUserStoppedSpeakingFrame,
        )
        from pipecat.metrics.metrics import TurnMetricsData
        from pipecat.pipeline.pipeline import Pipeline
        from pipecat.pipeline.worker import PipelineParams, PipelineWorker
        from pipecat.processors.aggregators.llm_context import LLMContext
        from pipecat.processors.aggregators.llm_response_universal import (
            LLMContextAggregatorPair,
            LLMUserAggregatorParams,
        )
        from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
        from pipecat.services.whisper.stt import WhisperSTTService
        from pipecat.workers.runner import WorkerRunner
        from faster_whisper import WhisperModel
        pipecat_version = version("pipecat-ai")
    except ImportError as e:
        import importlib.util

        what = ("pipecat-ai is not installed" if importlib.util.find_spec("pipecat") is None
                else f"pipecat-ai is installed but not its Silero/Whisper dependencies ({e})")
        fail(f"{what}; pip install -r bench/peers/pipecat-requirements.txt", code=3)

    logger.remove()
    logger.add(sys.stderr, level="DEBUG" if args.verbose else "WARNING")

    class CountingSileroVADAnalyzer(SileroVADAnalyzer):
        """Pipecat's SileroVADAnalyzer, unchanged, that also counts the samples
        it has been given and notes at which sample its state turned to
        SPEAKING or back to QUIET (the transitions VADController reports as
        speech started/stopped). Its VAD frames are queued by the aggregator
        behind any audio already waiting, so this count is the exact one."""

        def __init__(self, **kw):
            super().__init__(**kw)
            self.samples_in = 0
            self.prev = VADState.QUIET
            self.stops = collections.deque()
            self.starts = collections.deque()

        def _run_analyzer(self, buffer):
            self.samples_in += len(buffer) // 2
            state = super()._run_analyzer(buffer)
            if state == VADState.QUIET and self.prev in (VADState.SPEAKING, VADState.STOPPING):
                self.stops.append(self.samples_in)
            elif state == VADState.SPEAKING and self.prev in (VADState.QUIET, VADState.STARTING):
                self.starts.append(self.samples_in)
            if state in (VADState.QUIET, VADState.SPEAKING):
                self.prev = state
            return state

    class PinnedThreadsWhisperSTTService(WhisperSTTService):
        """WhisperSTTService with faster-whisper's cpu_threads pinned: Pipecat's
        _load builds WhisperModel(model, device=, compute_type=) and leaves
        cpu_threads at faster-whisper's default (4). This is that same line
        with cpu_threads added. run_stt (the transcribe call) is Pipecat's own,
        only timed here, segment by segment, from its start in the STT's
        background task to the TranscriptionFrame it yields (or to its end, if
        Pipecat drops the segment as no speech)."""

        def _load(self):
            self._model = WhisperModel(
                self._settings.model, device=self._device, compute_type=self._compute_type,
                cpu_threads=args.threads,
            )

        async def run_stt(self, audio):
            start = time.perf_counter()
            text = None
            async for frame in super().run_stt(audio):
                if isinstance(frame, TranscriptionFrame):
                    text = frame.text.strip()
                    rec.add("segment", rec.samples, start=start, seconds=len(audio) / 2 / RATE, text=text)
                yield frame
            if text is None:
                rec.add("segment", rec.samples, start=start, seconds=len(audio) / 2 / RATE, text=None)

    class Rec:
        """What the probes saw, for the file being fed. Times: audio in samples
        since the file's first sample, wall in perf_counter seconds."""

        def __init__(self):
            self.samples = 0  # audio samples that have left the user aggregator
            self.file_start = 0
            self.voice_end_sample = None
            self.voice_end_wall = None
            self.started = asyncio.Event()
            self.reset(0, None)

        def reset(self, file_start, voice_end_sample):
            self.file_start = file_start
            self.voice_end_sample = voice_end_sample
            self.voice_end_wall = None
            self.events = []
            self.turn_active = False
            self.vad_speaking = False

        def audio_s(self, sample):
            return (sample - self.file_start) / RATE

        def add(self, kind, sample, **kw):
            self.events.append(dict(kind=kind, t=self.audio_s(sample), wall=time.perf_counter(), **kw))

    rec = Rec()

    class Probe(FrameProcessor):
        """Passes every frame on; notes the ones that tell about the turn."""

        def __init__(self, where, vad, **kw):
            super().__init__(**kw)
            self.where, self.vad = where, vad

        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            down = direction == FrameDirection.DOWNSTREAM
            if self.where == "stt":  # between WhisperSTTService and the aggregator
                if isinstance(frame, VADUserStoppedSpeakingFrame) and not down:
                    rec.add("stt_segment_queued", rec.samples)  # the STT got the segment
                elif isinstance(frame, TranscriptionFrame) and down:
                    rec.add("transcript", rec.samples, text=frame.text.strip())
            elif down:  # after the aggregator
                if isinstance(frame, StartFrame):
                    rec.started.set()
                elif isinstance(frame, InputAudioRawFrame):
                    before = rec.samples
                    rec.samples += frame.num_frames
                    v = rec.voice_end_sample
                    if v is not None and before <= v < rec.samples:
                        rec.voice_end_wall = frame.fed_wall
                elif isinstance(frame, VADUserStartedSpeakingFrame):
                    s = self.vad.starts.popleft() if self.vad.starts else rec.samples
                    rec.vad_speaking = True
                    rec.add("vad_start", s)
                elif isinstance(frame, VADUserStoppedSpeakingFrame):
                    s = self.vad.stops.popleft() if self.vad.stops else rec.samples
                    rec.vad_speaking = False
                    rec.add("vad_stop", s)
                elif isinstance(frame, MetricsFrame):
                    for d in frame.data:
                        if isinstance(d, TurnMetricsData):
                            rec.add("smart_turn", rec.samples, complete=d.is_complete,
                                    probability=round(d.probability, 4),
                                    ms=round(d.e2e_processing_time_ms, 1))
                elif isinstance(frame, UserStartedSpeakingFrame):
                    rec.turn_active = True
                    rec.add("user_started", rec.samples)
                elif isinstance(frame, UserStoppedSpeakingFrame):
                    rec.turn_active = False
                    rec.add("user_stopped", rec.samples)
                elif isinstance(frame, LLMContextUserTurnFrame):
                    rec.add("user_turn_text", rec.samples, text=frame.text)
            await self.push_frame(frame, direction)

    vad = CountingSileroVADAnalyzer()  # default VADParams
    stt = PinnedThreadsWhisperSTTService(
        settings=WhisperSTTService.Settings(model=os.path.abspath(args.model)),
        device="cpu",
        compute_type="int8",
    )
    pair = LLMContextAggregatorPair(LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=vad))
    user_agg = pair.user()

    @user_agg.event_handler("on_user_turn_stop_timeout")
    async def _timeout(_agg):
        rec.add("stop_timeout", rec.samples)

    pipeline = Pipeline([stt, Probe("stt", vad), user_agg, Probe("out", vad)])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=RATE),
        enable_rtvi=False,
        idle_timeout_secs=None,  # a benchmark run, not a call left open
    )
    strategies = user_agg._user_turn_controller.user_turn_strategies
    stop_strategy = strategies.stop[0]
    analyzer = getattr(stop_strategy, "_turn_analyzer", None)

    clock = {"next": None}

    async def feed(pcm):
        """Queue 20 ms chunks at real-time pace; returns the samples fed."""
        if len(pcm) % (2 * CHUNK):
            pcm += bytes(2 * CHUNK - len(pcm) % (2 * CHUNK))
        for i in range(0, len(pcm), 2 * CHUNK):
            await send(pcm[i:i + 2 * CHUNK])
        return len(pcm) // 2

    async def send(chunk):
        now = time.perf_counter()
        if clock["next"] is None or clock["next"] < now - 0.2:
            clock["next"] = now  # (re)start the clock; never burst to catch up more than 200 ms
        delay = clock["next"] - now
        if delay > 0:
            await asyncio.sleep(delay)
        clock["next"] += CHUNK / RATE
        frame = InputAudioRawFrame(audio=chunk, sample_rate=RATE, num_channels=1)
        frame.fed_wall = time.perf_counter()
        await worker.queue_frame(frame)

    fed = {"samples": 0}

    def settled():
        """No speech and no user turn open: none heard, or the last one ended."""
        if rec.turn_active or rec.vad_speaking:
            return False
        kinds = [e["kind"] for e in rec.events]
        if "vad_start" not in kinds:
            return True
        last_vad = max(i for i, k in enumerate(kinds) if k in ("vad_start", "vad_stop"))
        return "user_stopped" in kinds[last_vad:]

    async def run_file(pcm, voice_end):
        rec.reset(fed["samples"], fed["samples"] + int(round(voice_end * RATE)))
        fed["samples"] += await feed(pcm)
        # The microphone stays open: silence until the turn has ended.
        silence = bytes(2 * CHUNK)
        waited = 0.0
        while waited < args.tail_cap and not settled():
            await send(silence)
            fed["samples"] += CHUNK
            waited += CHUNK / RATE
        # Let the context frame that follows the turn's end come through.
        for _ in range(25):
            await send(silence)
            fed["samples"] += CHUNK
        return summarize(list(rec.events), rec.voice_end_wall)

    def summarize(ev, voice_end_wall):
        out = {"stopped_at": None, "stt_ms": None, "text": ""}
        out["vad"] = [[round(e["t"], 3), e["kind"][4:]] for e in ev if e["kind"] in ("vad_start", "vad_stop")]
        stops = [i for i, e in enumerate(ev) if e["kind"] == "user_stopped"]
        out["turns"] = len(stops)
        if not stops:
            out["note"] = "the user turn never ended" if any(
                e["kind"] == "user_started" for e in ev) else "no speech detected"
        else:
            i = stops[0]  # the first end of turn Pipecat declared (early if before voice_end)
            ust, before = ev[i], ev[:i]
            vstops = [e for e in before if e["kind"] == "vad_stop"]
            vstop = vstops[-1] if vstops else None
            since = [e for e in before if vstop and e["wall"] >= vstop["wall"]]
            # Smart-turn's verdict on that stop. Its MetricsFrame is queued, so
            # it may come through after the UserStoppedSpeakingFrame it caused.
            verdict = None
            for e in ev[ev.index(vstop) + 1:] if vstop else []:
                if e["kind"] == "vad_start":
                    break
                if e["kind"] == "smart_turn":
                    verdict = e
                    break
            timed_out = any(e["kind"] == "stop_timeout" for e in since)
            starts = [e for e in before if e["kind"] == "user_started"]
            t0 = starts[0]["wall"] if starts else 0.0
            turn_tx = [e for e in before if e["kind"] == "transcript" and e["wall"] >= t0]
            last_tx = turn_tx[-1] if turn_tx else None
            # When the turn logic itself decided, before any wait for the transcript.
            if verdict and verdict["complete"]:
                decided, how = vstop, "smart-turn v3 said complete at the VAD stop"
            elif vstop:
                how = "smart-turn said incomplete; its silence fallback ended the turn"
                decided = ust
                if not last_tx or last_tx["wall"] >= ust["wall"] - 0.05:
                    # The end waited on the transcript (or on the timeout below):
                    # the fallback itself fired stop_secs of silence after the VAD stop.
                    st = analyzer.params.stop_secs if analyzer else 3.0
                    decided = dict(vstop, t=vstop["t"] + st, wall=vstop["wall"] + st)
            else:
                decided, how = ust, "no VAD stop: a transcript alone ended the turn"
            if timed_out:
                how += "; no transcript came, so user_turn_stop_timeout (5 s) ended it"
            out["stopped_at"] = round(decided["t"], 3)
            out["ended_by"] = how
            out["vad_stopped_at"] = round(vstop["t"], 3) if vstop else None
            if verdict:
                out["smart_turn"] = {k: verdict[k] for k in ("complete", "probability", "ms")}
            if last_tx:
                out["stt_ms"] = round(max(0.0, last_tx["wall"] - decided["wall"]) * 1000, 1)
            text = next((e["text"] for e in ev[i:] if e["kind"] == "user_turn_text"), "")
            out["text"] = text.strip()
            out["user_stopped_at"] = round(ust["t"], 3)
            if voice_end_wall is not None:
                out["turn_end_ms"] = round((ust["wall"] - voice_end_wall) * 1000, 1)
        out["segments"] = [
            {"seconds": round(e["seconds"], 2), "ms": round((e["wall"] - e["start"]) * 1000, 1),
             "text": e["text"],
             "in_first_turn": bool(stops) and e["text"] is not None and e["wall"] < ev[stops[0]]["wall"]}
            for e in ev if e["kind"] == "segment"
        ]
        return out

    results = []

    async def drive():
        try:
            await asyncio.wait_for(rec.started.wait(), timeout=120)
            if not args.no_warmup:
                await run_file(audio[0], float(files[0].get("voice_end", 0.0)))
            for entry, pcm in zip(files, audio):
                r = await run_file(pcm, float(entry.get("voice_end", 0.0)))
                results.append({"path": entry["path"], "voice_end": entry.get("voice_end"), **r})
        finally:
            await worker.queue_frame(EndFrame())

    async def run():
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        driver = asyncio.create_task(drive())
        await runner.run()
        await driver  # re-raises a driver failure

    asyncio.run(run())

    vp = vad.params
    turn_desc = {
        "start": [type(s).__name__ for s in strategies.start],
        "stop": [type(s).__name__ for s in strategies.stop],
        "analyzer": type(analyzer).__name__ if analyzer else None,
        "analyzer_params": analyzer.params.model_dump() if analyzer else None,
        "wait_for_transcript": getattr(stop_strategy, "wait_for_transcript", None),
        "user_turn_stop_timeout": user_agg._params.user_turn_stop_timeout,
    }
    print(json.dumps({
        "pipecat_version": pipecat_version,
        "vad": {
            "analyzer": "SileroVADAnalyzer", **vp.model_dump(),
            "window_samples": vad.num_frames_required(), "chunk_ms": 1000 * CHUNK // RATE,
        },
        "turn": (
            f"LLMUserAggregator default UserTurnStrategies: start={turn_desc['start']}, "
            f"stop={turn_desc['stop']} with {turn_desc['analyzer']} (bundled smart-turn-v3.2-cpu.onnx). "
            f"At each Silero VAD stop (speech then stop_secs={vp.stop_secs} s below confidence "
            f"{vp.confidence} or volume {vp.min_volume}) smart-turn scores the last <=8 s of audio; "
            "complete (p>0.5) ends the turn, incomplete waits for "
            f"{turn_desc['analyzer_params']['stop_secs'] if analyzer else '?'} s of silence. "
            "Either way the turn's end (UserStoppedSpeakingFrame) also waits for the finalized "
            "transcript, which WhisperSTTService starts computing at the VAD stop."
        ),
        "turn_config": turn_desc,
        "stt": {
            "service": "WhisperSTTService (SegmentedSTTService)", "model": os.path.abspath(args.model),
            "device": "cpu", "compute_type": "int8", "cpu_threads": args.threads,
            "transcribe": "model.transcribe(audio, language='en', hotwords=None, initial_prompt=None): "
                          "faster-whisper defaults otherwise (beam_size=5, timestamps on); "
                          "segment padded with 0.5 s of silence; segments with no_speech_prob >= 0.4 dropped",
        },
        "files": results,
    }))


if __name__ == "__main__":
    main()
