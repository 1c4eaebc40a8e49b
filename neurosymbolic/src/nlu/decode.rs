//! Constrained decoding of the slot tags, on the host: the best tag
//! sequence (Viterbi over the network's log-probabilities) among those that
//! are valid BIO (an `I-s` only after `B-s` or `I-s`) and use only slots the
//! intent takes.

/// The best valid tag sequence for `emissions` (`words × tags`
/// log-probabilities, tag 0 outside, `1 + 2 s` begin, `2 + 2 s` inside),
/// using only the slots `allowed` says yes to, with tag bigram
/// log-probabilities added `weight` times (`transitions`: `(tags + 1) ×
/// tags`, row 0 the start, row `1 + p` after tag `p`; empty for none).
pub fn viterbi(
    emissions: &[f32],
    tags: usize,
    allowed: &dyn Fn(usize) -> bool,
    transitions: &[f32],
    weight: f32,
) -> Vec<usize> {
    let trans = |row: usize, t: usize| {
        if transitions.len() == (tags + 1) * tags {
            weight * transitions[row * tags + t]
        } else {
            0.0
        }
    };
    if tags == 0 {
        return Vec::new();
    }
    let n = emissions.len() / tags;
    if n == 0 {
        return Vec::new();
    }
    let usable = |tag: usize| tag == 0 || allowed((tag - 1) / 2);
    let follows = |prev: usize, tag: usize| {
        tag % 2 == 1 || tag == 0 || (prev != 0 && (prev - 1) / 2 == (tag - 1) / 2)
    };
    let neg = f32::NEG_INFINITY;
    let mut score: Vec<f32> = (0..tags)
        .map(|t| {
            if usable(t) && (t == 0 || t % 2 == 1) {
                emissions[t] + trans(0, t)
            } else {
                neg
            }
        })
        .collect();
    let mut back = vec![0usize; n * tags];
    for i in 1..n {
        let mut next = vec![neg; tags];
        for t in (0..tags).filter(|&t| usable(t)) {
            let mut best = (neg, 0);
            for (p, &s) in score.iter().enumerate() {
                let s = s + trans(1 + p, t);
                if s > best.0 && follows(p, t) {
                    best = (s, p);
                }
            }
            if best.0 > neg {
                next[t] = best.0 + emissions[i * tags + t];
                back[i * tags + t] = best.1;
            }
        }
        score = next;
    }
    let mut tag = (0..tags)
        .filter(|&t| score[t] > neg)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    let mut out = vec![0; n];
    for i in (0..n).rev() {
        out[i] = tag;
        tag = back[i * tags + tag];
    }
    out
}

/// Spans `(slot, first word, past the last word)` of a tag sequence.
pub fn spans(tags: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, &t) in tags.iter().enumerate() {
        if t == 0 {
            continue;
        }
        let slot = (t - 1) / 2;
        match out.last_mut() {
            Some(last) if t % 2 == 0 && last.0 == slot && last.2 == i => last.2 = i + 1,
            _ => out.push((slot, i, i + 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(emissions: &[&[f32]], allowed: &[usize], expect: &[usize]) {
        let tags = emissions[0].len();
        let flat: Vec<f32> = emissions.iter().flat_map(|r| r.iter().copied()).collect();
        assert_eq!(
            viterbi(&flat, tags, &|s| allowed.contains(&s), &[], 0.0),
            expect
        );
    }

    #[test]
    fn an_inside_tag_never_starts_a_span_and_a_refused_slot_is_never_used() {
        // Tags: O, B-0, I-0, B-1, I-1.
        // I-0 wins alone at the start: not valid, B-0 I-0 is taken.
        check(
            &[
                &[-2.0, -1.0, -0.1, -5.0, -5.0],
                &[-3.0, -3.0, -0.1, -5.0, -5.0],
            ],
            &[0, 1],
            &[1, 2],
        );
        // Slot 1 is not the intent's: its tags never appear.
        check(
            &[
                &[-2.0, -5.0, -5.0, -0.1, -5.0],
                &[-2.0, -5.0, -5.0, -5.0, -0.1],
            ],
            &[0],
            &[0, 0],
        );
        // I-1 after B-0 is not valid.
        check(
            &[
                &[-5.0, -0.1, -5.0, -5.0, -5.0],
                &[-3.0, -5.0, -4.0, -5.0, -0.1],
            ],
            &[0, 1],
            &[1, 0],
        );
    }

    #[test]
    fn spans_join_begin_and_inside() {
        assert_eq!(
            spans(&[0, 1, 2, 2, 0, 3, 1]),
            vec![(0, 1, 4), (1, 5, 6), (0, 6, 7)]
        );
    }
}
