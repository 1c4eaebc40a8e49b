// The microphone and the page's own voice in the same render quantum: the
// reply samples queued here are played, and a copy of what the microphone
// heard beside what was played in the same instants is posted to the page
// (our echo canceller needs both, aligned). No other work here.
class Duplex extends AudioWorkletProcessor {
  constructor() {
    super();
    // Replies to play, oldest first: {id, samples}; `at`: into the first.
    this.queue = [];
    this.at = 0;
    // Samples heard (posted) so far: where things happen, in the page's
    // front end's own count.
    this.heard = 0;
    // Paused (someone talks over it): nothing plays, what was queued waits.
    this.paused = false;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.pause && !this.paused) {
        // A barge-in: silent at once, the rest kept until the page knows
        // what was said over it (nothing to keep: nothing is paused).
        this.paused = this.queue.length > 0;
        const left = this.queue.reduce((n, q) => n + q.samples.length, 0) - this.at;
        this.port.postMessage({ paused: this.queue.map((q) => q.id), at: this.heard, left });
      }
      if (m.resume && this.paused) {
        // A cough, a backchannel, its own voice: it goes on where it stopped.
        this.paused = false;
        const left = this.queue.reduce((n, q) => n + q.samples.length, 0) - this.at;
        this.port.postMessage({ resumed: this.queue.map((q) => q.id), at: this.heard, left });
      }
      if (m.stop) {
        // A barge-in's request (or a newer reply): what was queued is dropped.
        const dropped = this.queue.map((q) => q.id);
        this.queue = [];
        this.at = 0;
        this.paused = false;
        this.port.postMessage({ stopped: dropped, why: m.stop, at: this.heard });
      }
      if (m.play) this.queue.push({ id: m.id, samples: m.play });
    };
  }

  process(inputs, outputs) {
    const mic = inputs[0] && inputs[0][0];
    const out = outputs[0][0];
    const n = out.length;
    // A copy of what is played, made only while something plays.
    const played = this.queue.length && !this.paused ? new Float32Array(n) : null;
    let k = 0;
    while (played && k < n && this.queue.length) {
      const q = this.queue[0];
      if (this.at === 0) this.port.postMessage({ started: q.id, at: this.heard + k });
      const take = Math.min(n - k, q.samples.length - this.at);
      played.set(q.samples.subarray(this.at, this.at + take), k);
      k += take;
      this.at += take;
      if (this.at >= q.samples.length) {
        this.queue.shift();
        this.at = 0;
        this.port.postMessage({ ended: q.id, at: this.heard + k });
      }
    }
    for (const ch of outputs[0]) {
      if (played) ch.set(played);
      else ch.fill(0);
    }
    // While the microphone's stream has not started, what is played is
    // still posted (beside silence): its echo arrives once it has.
    if (mic || played) {
      const heard = mic ? mic.slice(0) : new Float32Array(n);
      const buffers = played ? [heard.buffer, played.buffer] : [heard.buffer];
      this.port.postMessage({ mic: heard, played }, buffers);
      this.heard += n;
    }
    return true;
  }
}
registerProcessor("ainima-duplex", Duplex);
