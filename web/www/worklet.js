// The microphone's samples, off the audio thread as they come: one copy per
// render quantum, posted to the page (no other work here).
class Capture extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage(ch.slice(0));
    return true;
  }
}
registerProcessor("ainima-capture", Capture);
