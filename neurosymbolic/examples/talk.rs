fn main() {
    let mut a = ainima_neurosymbolic::Assistant::builtin(1).unwrap();
    let now = ainima_neurosymbolic::Now::from_unix(1_795_341_600);
    for line in std::io::stdin().lines() {
        let line = line.unwrap();
        if line.is_empty() { println!("--"); a = ainima_neurosymbolic::Assistant::builtin(1).unwrap(); continue; }
        let t = a.hear(&line, now);
        let acts: Vec<String> = t.actions.iter().map(|x| format!("{}{}", x.tool, serde_json::to_string(&x.args).unwrap())).collect();
        println!("> {line}\n< {} [{}] {:?} {}", t.reply, t.state, t.intent, acts.join(" "));
    }
}
