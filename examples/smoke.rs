use trialog::*;
fn main() -> Result<()> {
    let path = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(2000);
    let _ = std::fs::remove_file(&path);
    let s = JournalStorage::open(&path)?;
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("w1"))?;
    let d = Distribution::float(-10.0, 10.0, false, None)?;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let t = s.create_new_trial(study, None)?;
        let x = (i % 20) as f64 - 10.0;
        s.set_trial_param(t, "x", x, &d)?;
        s.set_trial_param(t, "y", x / 2.0, &d)?;
        s.set_trial_intermediate_value(t, 0, x)?;
        s.set_trial_state_values(t, TrialState::Complete, Some(&[x * x]))?;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("ops/s {:.0}", 5.0 * n as f64 / secs);
    let t0 = std::time::Instant::now();
    let s2 = JournalStorage::open(&path)?;
    let all = s2.get_all_trials(study, None)?;
    println!(
        "reopen {} trials in {:?}, best {:?}",
        all.len(),
        t0.elapsed(),
        s2.get_best_trial(study)?.values
    );
    Ok(())
}
