fn main() {
    let path = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let t0 = std::time::Instant::now();
    let mut n = 0;
    trialog::journal::frame::scan_frames::<()>(&bytes[16..], |_, _p| {
        n += 1;
        Ok(())
    })
    .unwrap();
    println!("scan only {n} frames {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let mut ops = 0;
    trialog::journal::frame::scan_frames::<()>(&bytes[16..], |_, p| {
        ops += trialog::journal::codec::decode_batch(p).unwrap().ops.len();
        Ok(())
    })
    .unwrap();
    println!("scan+decode {ops} ops {:?}", t0.elapsed());
}
