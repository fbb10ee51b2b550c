use trialog::*;
fn main() -> Result<()> {
    let path = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(2000);
    if n > 0 {
        let s = JournalStorage::new(MemoryBackend::new())?;
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("w2"))?;
        let d = Distribution::float(-10.0, 10.0, false, None)?;
        for i in 0..n {
            let t = s.create_new_trial(study, None)?;
            let x = (i % 20) as f64 - 10.0;
            s.set_trial_param(t, "x", x, &d)?;
            s.set_trial_param(t, "y", x / 2.0, &d)?;
            s.set_trial_intermediate_value(t, 0, x)?;
            s.set_trial_state_values(t, TrialState::Complete, Some(&[x * x]))?;
        }
        std::fs::write(&path, s.backend().to_bytes()).unwrap();
    }
    let t0 = std::time::Instant::now();
    let s2 = JournalStorage::open(&path)?;
    let t1 = t0.elapsed();
    let all = s2.get_all_trials(0, None)?;
    println!("open {:?} get_all {} trials total {:?}", t1, all.len(), t0.elapsed());
    Ok(())
}
