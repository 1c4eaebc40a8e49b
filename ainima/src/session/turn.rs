//! Turn-taking: who has the floor, as a statig state machine. The machine
//! decides; the session carries out what it asks for ([`Do`]): pause the
//! assistant's audio at the user's first syllable, resume it after a
//! backchannel or a cough, drop it for a real interruption or a stop word.

use statig::prelude::*;

use super::words::Kind;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The user started speaking.
    Onset,
    /// The user's utterance ended (by silence or by meaning).
    End,
    /// What started as speech was too short to be speech.
    Rejected,
    /// The utterance's words, classified.
    Heard(Kind),
    /// A reply's first audio is queued.
    Speaking,
    /// The reply's audio has all been played.
    Done,
    /// There is nothing to say (the turn ended silently).
    Silent,
}

/// What the session should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Do {
    /// Stop the audio now, keeping what was left of it.
    Pause,
    /// Play the rest of the paused audio.
    Resume,
    /// Forget the paused audio and any reply not yet played: a barge-in.
    Drop,
    /// Forget it because of a stop word.
    DropForStop,
    /// Hand the words to the language core and the agent.
    Answer,
    /// A new request arrived before the last reply was spoken: cancel that
    /// reply (the new one supersedes it).
    Supersede,
}

/// Orders for the session, gathered while the machine handles an input.
#[derive(Debug, Default)]
pub struct Orders(pub Vec<Do>);

/// The turn-taking machine.
#[derive(Debug, Default)]
pub struct Turns;

#[state_machine(initial = "State::idle()", state(derive(Debug, Clone, PartialEq)))]
impl Turns {
    /// Before the session starts.
    #[state]
    fn idle(event: &Input) -> Outcome<State> {
        match event {
            Input::Onset => Transition(State::user_speaking()),
            _ => Transition(State::listening()),
        }
    }

    /// Nobody speaks; the assistant waits.
    #[state]
    fn listening(event: &Input) -> Outcome<State> {
        match event {
            Input::Onset => Transition(State::user_speaking()),
            // A late reply to an earlier turn.
            Input::Speaking => Transition(State::speaking()),
            _ => Handled,
        }
    }

    /// The user has the floor.
    #[state]
    fn user_speaking(context: &mut Orders, event: &Input) -> Outcome<State> {
        match event {
            Input::End => Transition(State::thinking()),
            Input::Rejected => Transition(State::listening()),
            // Words of an earlier utterance arriving while this one goes on.
            Input::Heard(Kind::Request | Kind::Stop) => {
                context.0.push(Do::Answer);
                Handled
            }
            _ => Handled,
        }
    }

    /// The user has finished; the assistant works on the answer.
    #[state]
    fn thinking(context: &mut Orders, event: &Input) -> Outcome<State> {
        match event {
            Input::Heard(Kind::Request) => {
                context.0.push(Do::Answer);
                Handled
            }
            Input::Heard(_) | Input::Silent => Transition(State::listening()),
            Input::Speaking => Transition(State::speaking()),
            // The user goes on: what is being prepared answers only half.
            Input::Onset => {
                context.0.push(Do::Supersede);
                Transition(State::user_speaking())
            }
            _ => Handled,
        }
    }

    /// The assistant has the floor.
    #[state]
    fn speaking(context: &mut Orders, event: &Input) -> Outcome<State> {
        match event {
            Input::Onset => {
                context.0.push(Do::Pause);
                Transition(State::yielding())
            }
            Input::Done => Transition(State::listening()),
            // Words of an utterance that ended before this reply began.
            Input::Heard(Kind::Stop) => {
                context.0.push(Do::DropForStop);
                Transition(State::listening())
            }
            Input::Heard(Kind::Request) => {
                context.0.push(Do::Drop);
                context.0.push(Do::Answer);
                Transition(State::thinking())
            }
            _ => Handled,
        }
    }

    /// The user spoke over the assistant, which fell silent at once; is it
    /// an interruption, or a backchannel, a cough?
    #[state]
    fn yielding(context: &mut Orders, event: &Input) -> Outcome<State> {
        match event {
            Input::Rejected | Input::Heard(Kind::Noise | Kind::Backchannel) => {
                context.0.push(Do::Resume);
                Transition(State::resuming())
            }
            Input::Heard(Kind::Stop) => {
                context.0.push(Do::DropForStop);
                Transition(State::listening())
            }
            Input::Heard(Kind::Request) => {
                context.0.push(Do::Drop);
                context.0.push(Do::Answer);
                Transition(State::thinking())
            }
            // The paused reply had nothing left.
            Input::Done => Handled,
            _ => Handled,
        }
    }

    /// Picking up where it stopped.
    #[state]
    fn resuming(context: &mut Orders, event: &Input) -> Outcome<State> {
        match event {
            Input::Speaking => Transition(State::speaking()),
            Input::Done => Transition(State::listening()),
            Input::Onset => {
                context.0.push(Do::Pause);
                Transition(State::yielding())
            }
            _ => Handled,
        }
    }
}

/// The state's name, for events and the status line.
pub fn name(s: &State) -> &'static str {
    match s {
        State::Idle {} => "idle",
        State::Listening {} => "listening",
        State::UserSpeaking {} => "user_speaking",
        State::Thinking {} => "thinking",
        State::Speaking {} => "speaking",
        State::Yielding {} => "yielding",
        State::Resuming {} => "resuming",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs inputs from `listening`; the states passed and the orders given.
    fn run(inputs: &[Input]) -> (Vec<&'static str>, Vec<Do>) {
        let mut m = Turns.state_machine();
        let mut orders = Orders::default();
        m.handle_with_context(&Input::Silent, &mut orders);
        let mut states = vec![name(m.state())];
        for i in inputs {
            m.handle_with_context(i, &mut orders);
            states.push(name(m.state()));
        }
        (states, orders.0)
    }

    #[test]
    fn a_plain_exchange() {
        let (s, d) = run(&[
            Input::Onset,
            Input::End,
            Input::Heard(Kind::Request),
            Input::Speaking,
            Input::Done,
        ]);
        assert_eq!(
            s,
            [
                "listening",
                "user_speaking",
                "thinking",
                "thinking",
                "speaking",
                "listening"
            ]
        );
        assert_eq!(d, [Do::Answer]);
    }

    #[test]
    fn a_backchannel_pauses_then_resumes() {
        let (s, d) = run(&[
            Input::Speaking,
            Input::Onset,
            Input::End,
            Input::Heard(Kind::Backchannel),
            Input::Speaking,
        ]);
        assert_eq!(s[s.len() - 1], "speaking");
        assert_eq!(d, [Do::Pause, Do::Resume]);
        let (_, d) = run(&[Input::Speaking, Input::Onset, Input::Rejected]);
        assert_eq!(d, [Do::Pause, Do::Resume], "a cough");
    }

    #[test]
    fn interruptions_and_stop_words_drop_the_reply() {
        let (s, d) = run(&[
            Input::Speaking,
            Input::Onset,
            Input::End,
            Input::Heard(Kind::Request),
        ]);
        assert_eq!(s.last(), Some(&"thinking"));
        assert_eq!(d, [Do::Pause, Do::Drop, Do::Answer]);
        let (s, d) = run(&[Input::Speaking, Input::Onset, Input::Heard(Kind::Stop)]);
        assert_eq!(s.last(), Some(&"listening"));
        assert_eq!(d, [Do::Pause, Do::DropForStop]);
    }

    #[test]
    fn speaking_on_while_the_answer_is_prepared_supersedes_it() {
        let (s, d) = run(&[Input::Onset, Input::End, Input::Onset, Input::End]);
        assert_eq!(s.last(), Some(&"thinking"));
        assert_eq!(d, [Do::Supersede]);
    }
}
