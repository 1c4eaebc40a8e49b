fn main() {
    let dir = std::path::Path::new("../shared/data/snips");
    let train = ainima_fallbacks::snips::read_dir(dir, "train_").unwrap();
    let test = ainima_fallbacks::snips::read_dir(dir, "validate_").unwrap();
    let t = std::time::Instant::now();
    let open: f32 = std::env::args().nth(1).map_or(0.5, |a| a.parse().unwrap());
    let conf: f32 = std::env::args().nth(2).map_or(0.8, |a| a.parse().unwrap());
    let cfg = ainima_fallbacks::snips::LearnConfig { open_below_repeat: open, ..Default::default() };
    let r = ainima_fallbacks::snips::evaluate(&train, &test, &cfg, conf).unwrap();
    let mut r2 = r.clone();
    r2.errors.truncate(0);
    println!("{}", serde_json::to_string_pretty(&r2).unwrap());
    for e in r.errors.iter().take(40) { println!("{e:?}"); }
    eprintln!("{:?}", t.elapsed());
}
